/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Everything a caller sends is checked here before it reaches a store, a path,
 * libvirt or a peer. Each function returns true when the value is acceptable. */

#include <stdbool.h>
#include <stddef.h>

#define MIG_DOMAIN_NAME_MAX 200
#define MIG_NODE_NAME_MAX 63
#define MIG_GROUP_NAME_MAX 64
#define MIG_REASON_MAX 255

/* Domain names: 1..200 bytes of UTF-8, no control characters, no shell meta characters,
 * no '/', not starting with '-' or '.'. */
bool mig_domain_name_valid(const char *s);
/* A domain UUID in its canonical 36-character form. */
bool mig_uuid_valid(const char *s);
/* Node names: host-name syntax, [A-Za-z0-9] then [A-Za-z0-9.-_], at most 63 bytes. */
bool mig_node_name_valid(const char *s);
/* Group names: like node names, at most 64 bytes. */
bool mig_group_name_valid(const char *s);
/* One of affinity, anti-affinity, soft-affinity, soft-anti-affinity. */
bool mig_group_policy_valid(const char *s);
/* Free text a person wrote (a disable reason): UTF-8, printable, at most 255 bytes. */
bool mig_reason_valid(const char *s);
/* Our migration IDs: 32 lower-case hex digits. */
bool mig_migration_id_valid(const char *s);
/* An SSH destination from the config: [user@]host, no option-looking or shell characters. */
bool mig_ssh_address_valid(const char *s);

/* What the rules above say, for error messages (the invalid value is never echoed). */
#define MIG_DOMAIN_NAME_RULE                                                                                \
        "a domain name is 1 to 200 printable UTF-8 characters without '/', spaces or shell "                \
        "metacharacters, "                                                                                  \
        "not starting with '-' or '.'"
#define MIG_NODE_NAME_RULE                                                                                  \
        "a node name is 1 to 63 letters, digits, '.', '-' or '_', starting with a letter or digit"
#define MIG_GROUP_NAME_RULE                                                                                 \
        "a group name is 1 to 64 letters, digits, '.', '-' or '_', starting with a letter or digit"
#define MIG_POLICY_RULE "a group policy is affinity, anti-affinity, soft-affinity or soft-anti-affinity"
#define MIG_REASON_RULE "a reason is 1 to 255 printable UTF-8 characters"
