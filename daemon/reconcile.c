/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reconciliation of what both nodes report about a domain in flight. */

#include "domain-events.h"

void reconcile_domain_event(Manager *m, const MigHookEvent *e) {
}
