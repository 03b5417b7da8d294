/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Bus messages as plain values: the one place that turns the body of an sd-bus message
 * into a GVariant and back. The daemon's logic reads and builds GVariants (a reply of a
 * peer, the arguments of a call to one); only the bus layer and the peer connection
 * touch sd_bus_message. Both speak the D-Bus type system, so nothing is lost: unix fds
 * ('h') are the one type refused. */

#include <glib.h>
#include <stdbool.h>
#include <systemd/sd-bus.h>

/* Reads the rest of the current container of m (the whole body, for a fresh message)
 * into a tuple. 0 with *ret set (floating reference sunk: free with g_variant_unref),
 * or a negative errno. */
int mig_bus_read_tuple(sd_bus_message *m, GVariant **ret);
/* Reads the next complete value of m. 1 with *ret set, 0 at the end of the container. */
int mig_bus_read_value(sd_bus_message *m, GVariant **ret);

/* Appends v to m: a tuple's members one by one (the arguments of a call), anything
 * else as one value. NULL appends nothing. */
int mig_bus_append_tuple(sd_bus_message *m, GVariant *v);
int mig_bus_append_value(sd_bus_message *m, GVariant *v);
/* Appends the members of container v (the entries of an a{sv}, the items of an array)
 * into the container open in m. */
int mig_bus_append_members(sd_bus_message *m, GVariant *v);

/* An a{sv} argument with known keys of known types only: each spec names a key, its
 * type ('b': int*, 'u': uint32_t*, 't': uint64_t*, 's': char** that gets a copy) and
 * where its value goes; a NULL key ends the list. */
typedef struct MigDictSpec {
        const char *key;
        char type;
        void *value;
} MigDictSpec;
/* Reads dict into specs; an unknown key or a value of another type is refused with
 * InvalidArgument and a sentence in which what names the argument ("option", "filter"). */
int mig_dict_read_specs(GVariant *dict, const char *what, const MigDictSpec *specs, sd_bus_error *error);

/* The one a{sv} reader: the string value of key in dict (an a{sv}, or a variant or
 * 1-tuple holding one), or NULL when absent or not a string. Borrowed from dict. */
const char *mig_dict_string(GVariant *dict, const char *key);
/* Integers ('t', 'u', 'b' and their signed kin) of an a{sv}; false when absent. */
bool mig_dict_uint64(GVariant *dict, const char *key, uint64_t *ret);
bool mig_dict_bool(GVariant *dict, const char *key, bool *ret);
/* The double value of key ('d'); false when absent or of another type. */
bool mig_dict_double(GVariant *dict, const char *key, double *ret);
/* The string array value of key ("as"), copied; NULL when absent or of another type. */
char **mig_dict_strv(GVariant *dict, const char *key);
/* The a{sv} v is, or holds (a reply tuple "(a{sv})", a variant): a new reference, or NULL. */
GVariant *mig_dict_ref(GVariant *v);
