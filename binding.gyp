{
  # The native resumable SHA-256 (native/resumable_sha256.c), built by `npm ci` / `npm install` (package.json
  # "install" runs native/build.mjs) and `npm run build:native`. It links against nothing: SHA256_* come from
  # the node binary.
  "targets": [
    {
      "target_name": "resumable_sha256",
      "sources": ["native/resumable_sha256.c"],
      "cflags": ["-Wall", "-Wextra", "-Werror=implicit-function-declaration"],
      "xcode_settings": { "OTHER_CFLAGS": ["-Wall", "-Wextra"] }
    }
  ]
}
