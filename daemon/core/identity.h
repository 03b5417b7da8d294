/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "manager.h"

/* Reads libvirt's host UUID into m->host_uuid and compares name and UUID with what the
 * store recorded at the previous start; a change is logged and recorded, never acted on. */
void identity_check(Manager *m);
