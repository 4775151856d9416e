/*
 * Zero-copy blob bodies: sendfile(2) from a blob file to a client's TCP socket, in N-API async work (the
 * libuv threadpool), so the bytes go from the page cache to the socket without passing through JavaScript
 * buffers and without taking the event loop's core (src/http/sendfile.ts decides when it is used and says
 * why; docs/registry.md describes it).
 *
 * JavaScript API:
 *   supported               true on Linux; elsewhere false and send() rejects with ENOSYS
 *   send(socketFd, fileFd, offset, length, budgetMs) -> Promise<number>
 *       sends up to `length` bytes of the file from `offset` (the file's own position is neither used nor
 *       moved) and resolves with how many went out: all of them, or fewer when the socket had no room and
 *       budgetMs had passed since the call started (a slow or stalled client; the caller decides when it has
 *       waited long enough). Rejects with an Error whose `code` is the errno name (EPIPE, ECONNRESET, ...), or
 *       ERR_SENDFILE_SHORT when the file ended first; `bytesSent` on the error says how many bytes did go out.
 *
 * Both descriptors are dup()ed here, synchronously, before the work is queued: the numbers JavaScript passes
 * are only known to be the socket and the file at the moment of the call. If Node closes the socket while the
 * work waits for a thread or runs, its number may be reused at once by any open() or accept(); the duplicate
 * keeps the original connection, so the bytes can never land in another file or another client's connection.
 * The duplicates are closed when the work ends.
 *
 * The socket is Node's, non-blocking (the duplicate shares that flag): when its buffer is full sendfile
 * says EAGAIN and the thread waits in poll(POLLOUT), but only until budgetMs after the call began: a thread
 * of the pool is never held for long by one client. Callers send bounded slices (a few MiB per call) so
 * that parallel transfers take turns on the threads.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __linux__
#include <fcntl.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#define SENDFILE_SUPPORTED 1
#else
#define SENDFILE_SUPPORTED 0
#endif

/* The most one sendfile(2) call moves on Linux, whatever it is asked for. */
#define MAX_CALL_BYTES 0x7ffff000L
/* What JavaScript numbers hold exactly. */
#define MAX_SAFE_INTEGER 9007199254740991.0
#define SHORT_CODE "ERR_SENDFILE_SHORT"

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  int socket_fd;
  int file_fd;
  int64_t offset;
  int64_t length;
  int budget_ms;
  int64_t sent;
  /* 0: done; an errno; or -1: the file ended before `length` bytes. */
  int error;
} SendWork;

#define NAPI_CALL(env, call)                                                                  \
  do {                                                                                        \
    if ((call) != napi_ok) {                                                                  \
      bool pending = false;                                                                   \
      napi_is_exception_pending((env), &pending);                                             \
      if (!pending) napi_throw_error((env), "ERR_SENDFILE_NAPI", "sendfile addon: N-API call failed"); \
      return NULL;                                                                            \
    }                                                                                         \
  } while (0)

#if SENDFILE_SUPPORTED
static int64_t now_ms(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* Waits until the socket takes bytes again: 0, an errno, or ETIMEDOUT when `deadline` passed without room. */
static int wait_writable(int fd, int64_t deadline) {
  for (;;) {
    int64_t left = deadline - now_ms();
    if (left <= 0) return ETIMEDOUT;
    struct pollfd target = {.fd = fd, .events = POLLOUT, .revents = 0};
    int ready = poll(&target, 1, (int)left);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return errno;
    if (ready == 0) return ETIMEDOUT;
    if (target.revents & POLLERR) {
      int pending = 0;
      socklen_t size = sizeof pending;
      if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &pending, &size) == 0 && pending != 0) return pending;
    }
    /* Writable, or hung up: the next sendfile says which (EPIPE for a closed peer). */
    return 0;
  }
}

static void execute(napi_env env, void *data) {
  (void)env;
  SendWork *job = data;
  off_t position = (off_t)job->offset;
  int64_t deadline = now_ms() + job->budget_ms;
  while (job->sent < job->length) {
    int64_t left = job->length - job->sent;
    ssize_t moved = sendfile(job->socket_fd, job->file_fd, &position, (size_t)(left < MAX_CALL_BYTES ? left : MAX_CALL_BYTES));
    if (moved > 0) {
      job->sent += moved;
      continue;
    }
    if (moved == 0) {
      job->error = -1;
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      int waited = wait_writable(job->socket_fd, deadline);
      /* Out of budget: what went out so far is the answer, the caller comes back later. */
      if (waited == ETIMEDOUT) return;
      if (waited != 0) {
        job->error = waited;
        return;
      }
      continue;
    }
    job->error = errno;
    return;
  }
}
#else
static void execute(napi_env env, void *data) {
  (void)env;
  ((SendWork *)data)->error = ENOSYS;
}
#endif

static void close_fds(SendWork *job) {
#if SENDFILE_SUPPORTED
  if (job->socket_fd >= 0) close(job->socket_fd);
  if (job->file_fd >= 0) close(job->file_fd);
#endif
  job->socket_fd = -1;
  job->file_fd = -1;
}

/* An Error with `code` (an errno name, or one of ours) and `bytesSent`; NULL when N-API itself failed. */
static napi_value send_error(napi_env env, const char *code, const char *message, int64_t sent) {
  napi_value code_value, message_value, error, sent_value;
  if (napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_value) != napi_ok) return NULL;
  if (napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &message_value) != napi_ok) return NULL;
  if (napi_create_error(env, code_value, message_value, &error) != napi_ok) return NULL;
  if (napi_create_int64(env, sent, &sent_value) != napi_ok) return NULL;
  if (napi_set_named_property(env, error, "bytesSent", sent_value) != napi_ok) return NULL;
  return error;
}

static napi_value errno_error(napi_env env, int error, int64_t sent) {
  int uv_error = uv_translate_sys_error(error);
  char message[160];
  snprintf(message, sizeof message, "sendfile: %s", uv_strerror(uv_error));
  return send_error(env, uv_err_name(uv_error), message, sent);
}

static void complete(napi_env env, napi_status status, void *data) {
  SendWork *job = data;
  close_fds(job);
  napi_value result = NULL;
  bool ok = false;
  if (status == napi_cancelled) {
    result = send_error(env, "ECANCELED", "sendfile: cancelled", 0);
  } else if (job->error == 0) {
    ok = napi_create_int64(env, job->sent, &result) == napi_ok;
  } else if (job->error == -1) {
    result = send_error(env, SHORT_CODE, "sendfile: the file ended before the requested bytes", job->sent);
  } else {
    result = errno_error(env, job->error, job->sent);
  }
  if (result == NULL) napi_get_undefined(env, &result);
  if (ok) napi_resolve_deferred(env, job->deferred, result);
  else napi_reject_deferred(env, job->deferred, result);
  napi_delete_async_work(env, job->work);
  free(job);
}

/* A whole number in [min, max] from a JS number, or false after throwing a RangeError/TypeError. */
static bool whole_number(napi_env env, napi_value value, double min, double max, const char *name, double *out) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_number) {
    char message[96];
    snprintf(message, sizeof message, "sendfile: %s must be a number", name);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
    return false;
  }
  double number = 0;
  napi_get_value_double(env, value, &number);
  if (!(number >= min && number <= max) || number != (double)(int64_t)number) {
    char message[96];
    snprintf(message, sizeof message, "sendfile: %s out of range", name);
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", message);
    return false;
  }
  *out = number;
  return true;
}

#if SENDFILE_SUPPORTED
/* A duplicate of `fd` (close-on-exec), checked to be what it should be; -1 after throwing. */
static int duplicate(napi_env env, int fd, bool socket) {
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  struct stat info;
  if (copy < 0 || fstat(copy, &info) != 0 || (socket ? !S_ISSOCK(info.st_mode) : !S_ISREG(info.st_mode))) {
    int error = copy < 0 ? errno : (socket ? ENOTSOCK : EINVAL);
    if (copy >= 0) close(copy);
    napi_value thrown = errno_error(env, error, 0);
    if (thrown != NULL) napi_throw(env, thrown);
    return -1;
  }
  return copy;
}
#endif

static napi_value send_slice(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "sendfile: expected (socketFd, fileFd, offset, length, budgetMs)");
    return NULL;
  }
  double socket_fd, file_fd, offset, length, budget_ms;
  if (!whole_number(env, argv[0], 0, INT32_MAX, "socketFd", &socket_fd)) return NULL;
  if (!whole_number(env, argv[1], 0, INT32_MAX, "fileFd", &file_fd)) return NULL;
  if (!whole_number(env, argv[2], 0, MAX_SAFE_INTEGER, "offset", &offset)) return NULL;
  if (!whole_number(env, argv[3], 0, MAX_SAFE_INTEGER, "length", &length)) return NULL;
  if (!whole_number(env, argv[4], 1, 60000, "budgetMs", &budget_ms)) return NULL;

  SendWork *job = calloc(1, sizeof *job);
  if (job == NULL) {
    napi_throw_error(env, "ENOMEM", "sendfile: out of memory");
    return NULL;
  }
  job->socket_fd = -1;
  job->file_fd = -1;
  job->offset = (int64_t)offset;
  job->length = (int64_t)length;
  job->budget_ms = (int)budget_ms;
#if SENDFILE_SUPPORTED
  job->socket_fd = duplicate(env, (int)socket_fd, true);
  if (job->socket_fd >= 0) job->file_fd = duplicate(env, (int)file_fd, false);
  if (job->file_fd < 0) {
    close_fds(job);
    free(job);
    return NULL;
  }
#else
  (void)socket_fd;
  (void)file_fd;
#endif
  napi_value promise, name;
  if (napi_create_promise(env, &job->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "quayside:sendfile", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, execute, complete, job, &job->work) != napi_ok) {
    close_fds(job);
    free(job);
    NAPI_CALL(env, napi_generic_failure);
  }
  if (napi_queue_async_work(env, job->work) != napi_ok) {
    napi_delete_async_work(env, job->work);
    close_fds(job);
    free(job);
    NAPI_CALL(env, napi_generic_failure);
  }
  return promise;
}

NAPI_MODULE_INIT() {
  napi_value send_function, supported;
  NAPI_CALL(env, napi_create_function(env, "send", NAPI_AUTO_LENGTH, send_slice, NULL, &send_function));
  NAPI_CALL(env, napi_set_named_property(env, exports, "send", send_function));
  NAPI_CALL(env, napi_get_boolean(env, SENDFILE_SUPPORTED, &supported));
  NAPI_CALL(env, napi_set_named_property(env, exports, "supported", supported));
  return exports;
}
