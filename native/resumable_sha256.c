/*
 * A SHA-256 whose state can be saved after any byte and continued in another process, for uploads whose
 * chunks land on different instances (src/registry/upload-hasher.ts). The hashing itself is Node's own
 * OpenSSL (SHA256_Init/Update/Final, exported by the node binary, SHA-NI where the CPU has it), so this file
 * only converts OpenSSL's context to and from a portable state:
 *
 *   offset  size  field
 *   0       1     version, STATE_VERSION (1)
 *   1       32    the eight chaining words h0..h7, each big-endian, after the last complete 64-byte block
 *   33      8     the total number of bytes hashed so far, big-endian
 *   41      n     the pending bytes of the incomplete block, n = total % 64 (0..63)
 *   41 + n  8     check: the first 8 bytes of SHA-256(bytes 0 .. 40 + n)
 *
 * 49 to 112 bytes in all. The layout does not depend on OpenSSL's struct, its version, the CPU's byte order
 * or word size, so a state saved by one build loads in any other. Loading checks the version, the exact
 * length, the byte count (at most 2^61 - 1 bytes: SHA-256 counts bits in 64 bits) and the check, and refuses
 * anything else with a JavaScript error whose code is ERR_SHA256_STATE; no input can make it read or write
 * outside its buffers. The check catches damage (a flipped bit would otherwise continue silently into a wrong
 * digest, found only at commit); it is no protection against someone who can write the database.
 *
 * JavaScript API (resumable-sha256.ts wraps it):
 *   new Sha256()          a fresh hash          new Sha256(state)   continued from a saved state
 *   update(bytes)         bytes: Uint8Array     save() -> Buffer    the state after every byte so far
 *   digest() -> Buffer    32 bytes; the hash is finished afterwards (update/save/digest then throw)
 */
#define NAPI_VERSION 8
#define OPENSSL_SUPPRESS_DEPRECATED /* the low-level SHA256_* calls are what the node binary exports */
#include <node_api.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define STATE_VERSION 1
#define BLOCK_BYTES 64
#define HEADER_BYTES (1 + 8 * 4 + 8)
#define CHECK_BYTES 8
#define MAX_STATE_BYTES (HEADER_BYTES + BLOCK_BYTES - 1 + CHECK_BYTES)
#define MAX_TOTAL_BYTES ((UINT64_C(1) << 61) - 1)
#define STATE_ERROR "ERR_SHA256_STATE"

typedef struct {
  SHA256_CTX context;
  /* Counted here as well as in the context, so save() can check that OpenSSL's fields mean what we read. */
  uint64_t total;
  int finished;
} Sha256;

static void put_be32(unsigned char *out, uint32_t value) {
  out[0] = (unsigned char)(value >> 24);
  out[1] = (unsigned char)(value >> 16);
  out[2] = (unsigned char)(value >> 8);
  out[3] = (unsigned char)value;
}

static uint32_t get_be32(const unsigned char *in) {
  return ((uint32_t)in[0] << 24) | ((uint32_t)in[1] << 16) | ((uint32_t)in[2] << 8) | (uint32_t)in[3];
}

/* Throws unless status is napi_ok; a pending exception (thrown by N-API itself) is left as it is. */
#define NAPI_CALL(env, call)                                                                     \
  do {                                                                                       \
    if ((call) != napi_ok) {                                                                 \
      bool pending = false;                                                                  \
      napi_is_exception_pending((env), &pending);                                            \
      if (!pending) napi_throw_error((env), "ERR_SHA256_NAPI", "sha256 addon: N-API call failed"); \
      return NULL;                                                                           \
    }                                                                                        \
  } while (0)

/* The bytes of a Uint8Array (a Buffer is one), or NULL after throwing a TypeError. */
static napi_value bytes_of(napi_env env, napi_value value, const unsigned char **data, size_t *length, napi_value ok) {
  bool is_typed = false;
  napi_typedarray_type type;
  void *raw = NULL;
  NAPI_CALL(env, napi_is_typedarray(env, value, &is_typed));
  if (is_typed) NAPI_CALL(env, napi_get_typedarray_info(env, value, &type, length, &raw, NULL, NULL));
  if (!is_typed || type != napi_uint8_array) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "sha256: expected a Uint8Array or Buffer");
    return NULL;
  }
  /* An empty typed array may report no data pointer. */
  *data = raw != NULL ? (const unsigned char *)raw : (const unsigned char *)"";
  return ok;
}

/* Sets up `hash` from a saved state, or returns the reason it is refused. */
static const char *load_state(Sha256 *hash, const unsigned char *state, size_t length) {
  if (length < HEADER_BYTES + CHECK_BYTES) return "sha256 state is too short";
  if (state[0] != STATE_VERSION) return "sha256 state has an unknown version";
  uint64_t total = 0;
  for (int i = 0; i < 8; i += 1) total = (total << 8) | state[1 + 32 + i];
  if (total > MAX_TOTAL_BYTES) return "sha256 state counts more bytes than SHA-256 allows";
  size_t pending = (size_t)(total % BLOCK_BYTES);
  if (length != HEADER_BYTES + pending + CHECK_BYTES) return "sha256 state length does not match its byte count";
  unsigned char check[SHA256_DIGEST_LENGTH];
  SHA256(state, HEADER_BYTES + pending, check);
  if (memcmp(check, state + HEADER_BYTES + pending, CHECK_BYTES) != 0) return "sha256 state is damaged (its check does not match)";

  /* The chaining words and bit count at the last block boundary, then the pending bytes through the normal
   * update: only the block-boundary meaning of OpenSSL's fields is relied on. */
  SHA256_Init(&hash->context);
  for (int i = 0; i < 8; i += 1) hash->context.h[i] = (SHA_LONG)get_be32(state + 1 + 4 * i);
  uint64_t bits = (total - pending) * 8;
  hash->context.Nl = (SHA_LONG)(bits & 0xffffffffu);
  hash->context.Nh = (SHA_LONG)(bits >> 32);
  hash->context.num = 0;
  SHA256_Update(&hash->context, state + HEADER_BYTES, pending);
  hash->total = total;
  hash->finished = 0;
  return NULL;
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

static napi_value construct(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], self, target;
  NAPI_CALL(env, napi_get_new_target(env, info, &target));
  if (target == NULL) {
    napi_throw_type_error(env, "ERR_CONSTRUCT_CALL_REQUIRED", "sha256: Sha256 must be called with new");
    return NULL;
  }
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  Sha256 *hash = calloc(1, sizeof(Sha256));
  if (hash == NULL) {
    napi_throw_error(env, "ERR_SHA256_MEMORY", "sha256: out of memory");
    return NULL;
  }
  napi_valuetype kind = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &kind);
  if (kind == napi_undefined) {
    SHA256_Init(&hash->context);
  } else {
    const unsigned char *state;
    size_t length;
    if (bytes_of(env, argv[0], &state, &length, self) == NULL) {
      free(hash);
      return NULL;
    }
    const char *refused = load_state(hash, state, length);
    if (refused != NULL) {
      free(hash);
      napi_throw_error(env, STATE_ERROR, refused);
      return NULL;
    }
  }
  if (napi_wrap(env, self, hash, finalize, NULL, NULL) != napi_ok) {
    free(hash);
    napi_throw_error(env, "ERR_SHA256_NAPI", "sha256 addon: cannot wrap the hash");
    return NULL;
  }
  return self;
}

/* The hash behind `this`, or NULL after throwing (wrong receiver, or a finished hash). */
static Sha256 *unwrap(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  void *data = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok || napi_unwrap(env, self, &data) != napi_ok || data == NULL) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value ignored;
      napi_get_and_clear_last_exception(env, &ignored);
    }
    napi_throw_type_error(env, "ERR_INVALID_THIS", "sha256: not a Sha256 object");
    return NULL;
  }
  Sha256 *hash = data;
  if (hash->finished) {
    napi_throw_error(env, "ERR_SHA256_FINISHED", "sha256: the hash is finished (digest() was called)");
    return NULL;
  }
  return hash;
}

static napi_value update(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1] = {NULL}, result;
  Sha256 *hash = unwrap(env, info, &argc, argv);
  if (hash == NULL) return NULL;
  NAPI_CALL(env, napi_get_undefined(env, &result));
  if (argc < 1) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "sha256: expected a Uint8Array or Buffer");
    return NULL;
  }
  const unsigned char *data;
  size_t length;
  if (bytes_of(env, argv[0], &data, &length, result) == NULL) return NULL;
  if (length > MAX_TOTAL_BYTES - hash->total) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "sha256: more bytes than SHA-256 allows");
    return NULL;
  }
  SHA256_Update(&hash->context, data, length);
  hash->total += length;
  return result;
}

static napi_value save(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Sha256 *hash = unwrap(env, info, &argc, NULL);
  if (hash == NULL) return NULL;
  const SHA256_CTX *context = &hash->context;
  size_t pending = (size_t)(hash->total % BLOCK_BYTES);
  uint64_t bits = ((uint64_t)context->Nh << 32) | (uint64_t)context->Nl;
  /* OpenSSL keeps the bit count in Nl/Nh and the pending bytes, in order, at the start of data[]: checked
   * against our own count, so a different OpenSSL layout is an error here and never a wrong state. */
  if (context->num != pending || bits != hash->total * 8) {
    napi_throw_error(env, "ERR_SHA256_INTERNAL", "sha256: OpenSSL's SHA256_CTX does not hold what this addon expects");
    return NULL;
  }
  unsigned char state[MAX_STATE_BYTES];
  state[0] = STATE_VERSION;
  for (int i = 0; i < 8; i += 1) put_be32(state + 1 + 4 * i, (uint32_t)context->h[i]);
  for (int i = 0; i < 8; i += 1) state[1 + 32 + i] = (unsigned char)(hash->total >> (56 - 8 * i));
  memcpy(state + HEADER_BYTES, (const unsigned char *)context->data, pending);
  unsigned char check[SHA256_DIGEST_LENGTH];
  SHA256(state, HEADER_BYTES + pending, check);
  memcpy(state + HEADER_BYTES + pending, check, CHECK_BYTES);
  napi_value result;
  NAPI_CALL(env, napi_create_buffer_copy(env, HEADER_BYTES + pending + CHECK_BYTES, state, NULL, &result));
  return result;
}

static napi_value digest(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Sha256 *hash = unwrap(env, info, &argc, NULL);
  if (hash == NULL) return NULL;
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256_Final(md, &hash->context);
  hash->finished = 1;
  napi_value result;
  NAPI_CALL(env, napi_create_buffer_copy(env, sizeof md, md, NULL, &result));
  return result;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor methods[] = {
      {"update", NULL, update, NULL, NULL, NULL, napi_default_method, NULL},
      {"save", NULL, save, NULL, NULL, NULL, napi_default_method, NULL},
      {"digest", NULL, digest, NULL, NULL, NULL, napi_default_method, NULL},
  };
  napi_value constructor;
  NAPI_CALL(env, napi_define_class(env, "Sha256", NAPI_AUTO_LENGTH, construct, NULL, sizeof methods / sizeof methods[0], methods, &constructor));
  NAPI_CALL(env, napi_set_named_property(env, exports, "Sha256", constructor));
  napi_value version;
  NAPI_CALL(env, napi_create_uint32(env, STATE_VERSION, &version));
  NAPI_CALL(env, napi_set_named_property(env, exports, "STATE_VERSION", version));
  return exports;
}
