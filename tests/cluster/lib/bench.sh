# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# The bench library: what every bench test (tests/cluster/test-*.sh) and every
# benchmark (tests/bench/*.sh) sources, and nothing else:
#
#   . "${CLUSTER_LIB:-$(dirname "$0")/lib/bench.sh}"            (a test)
#   . "${CLUSTER_LIB:-$(dirname "$0")/../cluster/lib/bench.sh}" (a benchmark)
#
# (meson passes CLUSTER_LIB, the path of this file).  It brings in, from this
# folder:
#   cluster.sh   the bench: instances, nodes, running commands on them,
#                tear-down, diagnostics (also a command: cluster.sh help)
#   domain.sh    the bench's domains: their one XML (domain_xml), defining
#                them (cluster_define_domain, make_domain), their disks
#   guest.sh     the Linux test guest that dirties memory (guest_define, ...)
#   checks.sh    headings, checks, waits, reading domains, daemons, migrations
#   figures.sh   timing commands inside a node and summing the times up
# Each file lists its functions at its top; ../README.md tells the whole story.
# node-init.sh, also here, is no library: cluster.sh runs it as a node's first
# process.

# shellcheck source=cluster.sh
. "$(dirname "${BASH_SOURCE[0]}")/cluster.sh"
# shellcheck source=guest.sh
. "$CLUSTER_LIBDIR/guest.sh"
# shellcheck source=checks.sh
. "$CLUSTER_LIBDIR/checks.sh"
# shellcheck source=figures.sh
. "$CLUSTER_LIBDIR/figures.sh"
