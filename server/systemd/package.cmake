# server/systemd/package.cmake — `cmake --install` and `cpack -G DEB`, included
# at the end of the top CMakeLists.txt.
#
# `cmake --install BUILD --prefix DIR` writes only under DIR (no root needed):
# the binary, the systemd unit (naming DIR's binary) and the docs. The
# /etc/default/visitsync file is in the component `etc`, left out of a plain
# install (EXCLUDE_FROM_ALL) and put into the .deb, where /etc is right; a
# source install copies server/systemd/visitsync.default there by hand.
#
# The .deb (`cpack -G DEB` in a build directory) is for a town's server: it
# refuses a sanitized, fuzzing or unoptimized build (see package_check.cmake).
include(GNUInstallDirs)

install(TARGETS visitsync RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT visitsync)

# The units name the binary and the docs by absolute paths; they are those of
# the prefix at install time (/usr in the .deb, CPack stages with DESTDIR).
# visitsync-backup.service and its timer make the nightly copy (operations.md,
# "Backup"); the package enables neither unit.
foreach(vs_unit_name visitsync.service visitsync-backup.service visitsync-backup.timer)
  set(VS_UNIT_SRC ${CMAKE_CURRENT_LIST_DIR}/${vs_unit_name})
  set(VS_UNIT_OUT ${PROJECT_BINARY_DIR}/systemd/${vs_unit_name})
  install(CODE "
    file(READ \"${VS_UNIT_SRC}\" vs_unit)
    string(REPLACE \"/usr/bin/visitsync\" \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/visitsync\"
           vs_unit \"\${vs_unit}\")
    string(REPLACE \"/usr/share/doc/visitsync\" \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_DOCDIR}\"
           vs_unit \"\${vs_unit}\")
    file(WRITE \"${VS_UNIT_OUT}\" \"\${vs_unit}\")
  " COMPONENT visitsync)
  install(FILES ${VS_UNIT_OUT} DESTINATION lib/systemd/system COMPONENT visitsync)
endforeach()

file(GLOB VS_DOCS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/*.md)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${VS_DOCS} DESTINATION ${CMAKE_INSTALL_DOCDIR}
        COMPONENT visitsync)

# Root only: it may name a metrics token.
install(FILES ${CMAKE_CURRENT_LIST_DIR}/visitsync.default DESTINATION /etc/default
        RENAME visitsync PERMISSIONS OWNER_READ OWNER_WRITE COMPONENT etc EXCLUDE_FROM_ALL)

# Why this build must not become a town's package; empty when it may.
set(CPACK_VS_UNFIT "")
if(VS_SANITIZE OR VS_TSAN OR VS_FUZZ)
  set(CPACK_VS_UNFIT "it is built with sanitizers (VS_SANITIZE, VS_TSAN or VS_FUZZ)")
elseif(NOT CMAKE_BUILD_TYPE MATCHES "^(Release|RelWithDebInfo|MinSizeRel)$")
  set(CPACK_VS_UNFIT "its build type is ${CMAKE_BUILD_TYPE}, not optimized")
endif()
set(CPACK_PROJECT_CONFIG_FILE ${CMAKE_CURRENT_LIST_DIR}/package_check.cmake)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME visitsync)
set(CPACK_PACKAGE_VENDOR "visitsync")
set(CPACK_PACKAGE_CONTACT "visitsync maintainers <visitsync@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "offline-first sync server for community rehabilitation visits")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
# One .deb holding both components (the `etc` one is only reached this way).
set(CPACK_COMPONENTS_ALL visitsync etc)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_GROUPING ALL_COMPONENTS_IN_ONE)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # visitsync_VERSION_ARCH.deb
set(CPACK_DEBIAN_PACKAGE_NAME visitsync)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${CPACK_PACKAGE_CONTACT}")
# The synopsis line is CPACK_PACKAGE_DESCRIPTION_SUMMARY; this is the rest.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
  "Cadres record home visits on tablets offline in the villages; when a tablet
reaches Wi-Fi it syncs over WebSocket to this server, which merges every
change into one SQLite store, resolves concurrent edits deterministically and
keeps every losing value for a supervisor. Supervisors follow the tablets and
resolve conflicts in a web dashboard. One binary, visitsync: the server
(systemd unit visitsync.service, not started on install) and the admin
commands.
.
社区戒毒康复帮扶走访的离线同步服务器。")
# The libraries' packages (libwebsockets17, libcjson1, libsqlite3-0, ...) are
# computed by dpkg-shlibdeps (dpkg-dev, and file); adduser is for postinst.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${CMAKE_CURRENT_LIST_DIR}/postinst ${CMAKE_CURRENT_LIST_DIR}/prerm
  ${CMAKE_CURRENT_LIST_DIR}/postrm ${CMAKE_CURRENT_LIST_DIR}/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
