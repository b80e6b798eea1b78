/* http_client.h -- for tests that talk to the review server over real HTTP
 * on a loopback port: one raw request, its reply parsed. */
#ifndef OMR_TESTS_HTTP_CLIENT_H
#define OMR_TESTS_HTTP_CLIENT_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    int status;           /* -1 until a reply is parsed */
    char cookie[200];     /* omr_session=... from Set-Cookie */
    char set_cookie[400]; /* the whole Set-Cookie value */
    char *body;           /* malloc'd, NUL-terminated (resp_free) */
    size_t len;           /* of body, which may hold NULs (a PNG) */
    char type[80];        /* Content-Type without parameters */
} resp_t;

static inline void resp_free(resp_t *r)
{
    free(r->body);
    r->body = NULL;
}

/* Send reqlen bytes of a raw request to 127.0.0.1:port and parse the reply
 * into *out (resp_free it). Returns 0, or -1 when nothing was answered. */
static inline int http_send(int port, const char *req, size_t reqlen, resp_t *out)
{
    memset(out, 0, sizeof *out);
    out->status = -1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    for (size_t off = 0; off < reqlen;) {
        ssize_t k = send(fd, req + off, reqlen - off, MSG_NOSIGNAL);
        if (k <= 0)
            break; /* the server may refuse early (413): read its answer anyway */
        off += (size_t)k;
    }
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (n + 4096 > cap)
            buf = realloc(buf, cap *= 2);
        ssize_t k = recv(fd, buf + n, cap - n - 1, 0);
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    close(fd);
    buf[n] = 0;
    char *hend = strstr(buf, "\r\n\r\n");
    if (sscanf(buf, "HTTP/1.%*d %d", &out->status) != 1 || !hend) {
        out->status = -1;
        free(buf);
        return -1;
    }
    *hend = 0;
    char *sc = strcasestr(buf, "\r\nSet-Cookie: ");
    if (sc) {
        sscanf(sc + 14, "%399[^\r]", out->set_cookie);
        sscanf(sc + 14, "%199[^;\r]", out->cookie);
    }
    char *ct = strcasestr(buf, "\r\nContent-Type: ");
    if (ct)
        sscanf(ct + 16, "%79[^\r;]", out->type);
    out->len = n - (size_t)(hend + 4 - buf);
    out->body = malloc(out->len + 1);
    memcpy(out->body, hend + 4, out->len);
    out->body[out->len] = 0;
    free(buf);
    return 0;
}

#endif
