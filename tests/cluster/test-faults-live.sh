#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The fault matrix's live and live+block rows (test-faults.sh): the five faults while
# libvirt migrates.
# Exit 0 pass, 1 fail, 77 skip.
FAULT_ENGINES="live block" exec bash "$(dirname "$0")/test-faults.sh" "$@"
