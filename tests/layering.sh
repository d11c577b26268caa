#!/bin/sh
# Checks the dependency direction the include paths already enforce, plus the
# rule that third-party types stay in their module: cJSON in protocol/;
# sqlite3 in db/ and client/ (the tablet's local store, built on db/'s
# connection core, db_core.h); libwebsockets in server/ and client/ (and the
# load generator in bench/, for both). The server and the client library
# never include each other's headers. The embedded web apps (web/, vs_web)
# depend on nothing of ours, and only the server includes web.h.
top=${1:-.}
fail=0
mods="$top/protocol $top/sync $top/db $top/server $top/client $top/cli $top/web"
check() { # pattern, allowed dir, what
  hits=$(grep -rlE "$1" $mods "$top"/bench \
         --include='*.c' --include='*.h' 2>/dev/null | grep -vE "^$top/($2)/" || true)
  if [ -n "$hits" ]; then echo "layering: $3 outside $2/: $hits"; fail=1; fi
}
check '#include *[<"](cjson/)?cJSON\.h' protocol "cJSON"
check '#include *[<"]sqlite3\.h' 'db|client|bench' "sqlite3"
check '#include *[<"]libwebsockets\.h' 'server|client|bench' "libwebsockets"
check '#include *"srv[a-z_]*\.h"' 'server|cli' "the server's headers"
check '#include *"vsc[a-z_]*\.h"' 'client|cli' "the client library's headers"
check '#include *"db_internal\.h"' 'db' "db/'s internal header"
check '#include *"db_core\.h"' 'db|client' "the connection core (db_core.h, sqlite3 types)"
check '#include *"web(_[a-z_]*)?\.h"' 'web|server' "the embedded web apps' headers (web.h)"
hits=$(grep -rhoE '#include *"[^"]+"' "$top"/web --include='*.c' --include='*.h' 2>/dev/null |
       grep -vE '"web(_[a-z_]*)?\.h"' || true)
if [ -n "$hits" ]; then echo "layering: web/ includes another module: $hits"; fail=1; fi
if grep -qE 'target_link_libraries *\( *vs_web' "$top"/web/CMakeLists.txt 2>/dev/null; then
  echo "layering: vs_web links a library; it must depend on nothing"; fail=1
fi
if grep -rnE '#include *"\.\./' $mods 2>/dev/null; then
  echo "layering: relative includes across modules bypass the build's direction"; fail=1
fi
[ $fail = 0 ] && echo "layering: ok"
exit $fail
