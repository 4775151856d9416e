{
  # The native addons, built by `npm ci` / `npm install` (package.json "install" runs native/build.mjs) and
  # `npm run build:native`: the resumable SHA-256 (native/resumable_sha256.c; it links against nothing:
  # SHA256_* come from the node binary) and the zero-copy blob sender (native/blob_sendfile.c; sendfile(2)
  # on Linux, a stub that says "unsupported" elsewhere).
  "targets": [
    {
      "target_name": "resumable_sha256",
      "sources": ["native/resumable_sha256.c"],
      "cflags": ["-Wall", "-Wextra", "-Werror=implicit-function-declaration"],
      "xcode_settings": { "OTHER_CFLAGS": ["-Wall", "-Wextra"] }
    },
    {
      "target_name": "blob_sendfile",
      "sources": ["native/blob_sendfile.c"],
      "cflags": ["-Wall", "-Wextra", "-Werror=implicit-function-declaration"],
      "xcode_settings": { "OTHER_CFLAGS": ["-Wall", "-Wextra"] }
    }
  ]
}
