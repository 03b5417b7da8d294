/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* migrated-hook-migrate: the "migrate" event of the libvirt hook (migrated-hook execs
 * it). libvirt passes the incoming domain's XML on stdin and takes the XML to use from
 * stdout (nothing printed: it keeps its own). This node's [Rewrite] rules from
 * migrated.conf are applied; a domain this node cannot run as rewritten (a bridge it
 * lacks, unusable rules) is refused with the reason on stderr, which libvirt hands to
 * the source's caller, and the refusal is recorded as the event's message. */

#include <stdio.h>
#include <string.h>

#include "hook-run.h"
#include "rewrite.h"

static bool rewrite_incoming(MigHookEvent *e, const char *xml, size_t len) {
        g_autoptr(GError) err = NULL;
        g_autofree char *out = NULL;
        if (strcmp(e->sub_operation, "begin") != 0)
                return true;
        g_autoptr(MigRewriteRules) rules = mig_rewrite_rules_load_file(hook_config_file(), &err);
        if (rules &&
            mig_rewrite_domain_xml(rules, xml, len, MIG_REWRITE_CHECK_BRIDGES, NULL, &out, &err) == 0) {
                if (out)
                        fputs(out, stdout);
                return true;
        }
        g_autofree char *why = g_strdup_printf(MIG_HOOK_REFUSAL " of %s: %s", e->domain, err->message);
        fprintf(stderr, "%s\n", why); /* the whole reason, for the source's caller */
        mig_hook_event_set_message(e, why);
        return false;
}

int main(int argc, char **argv) {
        return hook_run(argc, argv, rewrite_incoming);
}
