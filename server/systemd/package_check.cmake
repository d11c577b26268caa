# package_check.cmake — CPack reads this before it builds a package
# (CPACK_PROJECT_CONFIG_FILE). A town's package must come from an optimized
# build without sanitizers: a sanitized binary is slow, and aborts the server
# on the first report. CPACK_VS_UNFIT (set by package.cmake) says why this
# build is not one. `cpack -D CPACK_VS_ALLOW_UNFIT=ON` builds it anyway, for
# tests/package/ only, which checks such a package's structure.
if(CPACK_VS_UNFIT AND NOT CPACK_VS_ALLOW_UNFIT)
  message(FATAL_ERROR "visitsync: this build cannot be packaged for a server: ${CPACK_VS_UNFIT}. "
          "Package from a build configured with -DCMAKE_BUILD_TYPE=RelWithDebInfo and no VS_SANITIZE, "
          "VS_TSAN or VS_FUZZ.")
endif()
