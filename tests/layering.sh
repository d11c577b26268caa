#!/bin/sh
# Checks the dependency direction the include paths already enforce, plus the
# rule that third-party types stay in their module: cJSON in protocol/,
# sqlite3 in db/, libwebsockets in server/ (and the load generator in bench/).
top=${1:-.}
fail=0
check() { # pattern, allowed dir, what
  hits=$(grep -rlE "$1" "$top"/protocol "$top"/sync "$top"/db "$top"/server "$top"/cli "$top"/bench \
         --include='*.c' --include='*.h' 2>/dev/null | grep -vE "^$top/($2)/" || true)
  if [ -n "$hits" ]; then echo "layering: $3 outside $2/: $hits"; fail=1; fi
}
check '#include *[<"](cjson/)?cJSON\.h' protocol "cJSON"
check '#include *[<"]sqlite3\.h' 'db|bench' "sqlite3"
check '#include *[<"]libwebsockets\.h' 'server|bench' "libwebsockets"
if grep -rnE '#include *"\.\./' "$top"/protocol "$top"/sync "$top"/db "$top"/server "$top"/cli 2>/dev/null; then
  echo "layering: relative includes across modules bypass the build's direction"; fail=1
fi
[ $fail = 0 ] && echo "layering: ok"
exit $fail
