/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The IDs of migrations and of domain events: 32 random lower-case hex digits (the shape
 * mig_migration_id_valid() accepts). Never fails. */
char *mig_id_new(void);
