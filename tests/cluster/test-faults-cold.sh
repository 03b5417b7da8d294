#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The fault matrix's cold row (test-faults.sh): the five faults during the disk copy, and
# kill -9 of either daemon in VERIFY_RESIZE and during confirm.
# Exit 0 pass, 1 fail, 77 skip.
FAULT_ENGINES=cold exec bash "$(dirname "$0")/test-faults.sh" "$@"
