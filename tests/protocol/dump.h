/*
 * dump.h — flattens a parsed message into "key=value" lines, the language
 * of the case files' expectations (see cases/README).
 */
#ifndef VS_TEST_PROTO_DUMP_H
#define VS_TEST_PROTO_DUMP_H

#include "proto.h"

/* Writes the lines of m into buf (NUL-terminated, truncated at size). */
void dump_msg(const struct proto_msg *m, char *buf, size_t size);

#endif
