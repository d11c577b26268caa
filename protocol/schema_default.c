/*
 * schema_default.c — the built-in schema of §4 (the 帮教 visit programme),
 * used when `serve` gets no --schema. Its bytes decide the default schema
 * version that clients cache, so edit it only as a schema change.
 */
#include "proto_schema.h"

const char proto_default_schema_json[] =
    "{\"collections\":{"
    "\"subjects\":{\"scope\":\"grid\",\"fields\":{"
    "\"name\":{\"type\":\"string\",\"required\":true},"
    "\"grid\":{\"type\":\"id\",\"required\":true},"
    "\"status\":{\"type\":\"enum\",\"values\":[\"community_rehab\",\"voluntary\",\"completed\","
    "\"relapsed\"]},"
    "\"employment\":{\"type\":\"enum\",\"values\":[\"employed\",\"self_employed\",\"unemployed\","
    "\"unable\"]},"
    "\"employer\":{\"type\":\"string\"},"
    "\"income\":{\"type\":\"number\",\"min\":0},"
    "\"dibao\":{\"type\":\"enum\",\"values\":[\"none\",\"applied\",\"approved\",\"rejected\"]},"
    "\"disability_cert\":{\"type\":\"bool\"},"
    "\"phone\":{\"type\":\"string\"},"
    "\"address\":{\"type\":\"string\"},"
    "\"family_notes\":{\"type\":\"text\"},"
    "\"cadre\":{\"type\":\"string\"}}},"
    "\"visits\":{\"scope\":\"grid\",\"fields\":{"
    "\"subject\":{\"type\":\"id\",\"required\":true},"
    "\"grid\":{\"type\":\"id\",\"required\":true},"
    "\"visited_at\":{\"type\":\"datetime\",\"required\":true},"
    "\"kind\":{\"type\":\"enum\",\"values\":[\"home\",\"phone\",\"workplace\",\"office\","
    "\"group\"]},"
    "\"living\":{\"type\":\"text\"},"
    "\"employment\":{\"type\":\"enum\",\"values\":[\"employed\",\"self_employed\",\"unemployed\","
    "\"unable\"]},"
    "\"income\":{\"type\":\"number\"},"
    "\"assistance\":{\"type\":\"array\",\"items\":{\"type\":\"enum\",\"values\":[\"rehab\","
    "\"training\",\"placement\",\"family\",\"fund\",\"purchase\",\"dibao\",\"medical\"]}},"
    "\"needs\":{\"type\":\"text\"},"
    "\"notes\":{\"type\":\"text\"},"
    "\"photos\":{\"type\":\"array\",\"items\":{\"type\":\"sha256\"}},"
    "\"follow_up\":{\"type\":\"date\"}}}}}";
