/* bench-review -- load generator for the review server (tools/bench-review.sh).
 *
 * usage: bench-review PORT OPERATORS PASSWORD PREFIX [THINK_MS]
 * THINK_MS (default 0): each operator pauses a random 0.5..1.5 x THINK_MS
 * between items, as a person looking at the crop does; 0 = saturation.
 * Logs in OPERATORS simulated operators (PREFIX1, PREFIX2, ..., all with
 * PASSWORD) and has each, in its own thread and without pause, fetch the next
 * item (POST /api/next), fetch its image (GET the crop or the page), and submit
 * a decision (POST /api/decide with the machine's proposal when the item
 * takes it, else the first option, "reject" or "duplicate"), until the queue
 * is empty. Per item it times next + image + decide on the client, and prints
 *   bench-review: operators=N items=N p50_ms=X p95_ms=X max_ms=X keys_per_item=K errors=N
 * settled_elsewhere: decisions refused with 409 "settled" (another decision on the
 * same respondent made the item moot meanwhile; nothing written, not an error).
 * p95 per phase (next, image, decide) says where the time goes.
 * keys_per_item counts what an operator would press for the same decision on
 * the page: 1 (Enter) to accept the proposal, else the value's digits + Enter.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

static int g_port;
static const char *g_pw, *g_prefix;
static int g_think;

typedef struct {
    int idx;
    double *ms, *phase[3]; /* per item: total; next, image, decide */
    int n, cap, errors, settled;
    long keys;
} op_t;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* One request on a fresh connection; returns the status, *pbody malloc'd. */
static int request(const char *method, const char *path, const char *cookie, const char *csrf, const char *body,
                   char **pbody, char *setcookie, size_t nset)
{
    *pbody = NULL;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)g_port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    char head[1024];
    size_t bl = body ? strlen(body) : 0;
    int hn = snprintf(head, sizeof head,
                      "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n%s%s%s%s%s%s"
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                      method, path, g_port, cookie ? "Cookie: " : "", cookie ? cookie : "", cookie ? "\r\n" : "",
                      csrf ? "X-CSRF-Token: " : "", csrf ? csrf : "", csrf ? "\r\n" : "", bl);
    if (send(fd, head, (size_t)hn, MSG_NOSIGNAL) < 0 || (bl && send(fd, body, bl, MSG_NOSIGNAL) < 0)) {
        close(fd);
        return -1;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (n + 8192 > cap)
            buf = realloc(buf, cap *= 2);
        ssize_t k = recv(fd, buf + n, cap - n - 1, 0);
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    close(fd);
    buf[n] = 0;
    int status = -1;
    sscanf(buf, "HTTP/1.%*d %d", &status);
    char *h = strstr(buf, "\r\n\r\n");
    if (setcookie) {
        char *sc = strstr(buf, "Set-Cookie: ");
        if (sc)
            sscanf(sc + 12, "%199[^;\r]", setcookie);
        (void)nset;
    }
    *pbody = h ? strdup(h + 4) : strdup("");
    free(buf);
    return status;
}

static void *run(void *arg)
{
    op_t *op = arg;
    char name[64], body[512], cookie[200] = "", csrf[80] = "";
    snprintf(name, sizeof name, "%s%d", g_prefix, op->idx + 1);
    snprintf(body, sizeof body, "{\"name\":\"%s\",\"password\":\"%s\"}", name, g_pw);
    char *rb;
    if (request("POST", "/api/login", NULL, NULL, body, &rb, cookie, sizeof cookie) != 200) {
        op->errors++;
        free(rb);
        return NULL;
    }
    json_t *j = json_loads(rb, 0, NULL);
    snprintf(csrf, sizeof csrf, "%s", json_string_value(json_object_get(j, "csrf")) ?: "");
    json_decref(j);
    free(rb);
    unsigned seed = (unsigned)op->idx * 7919u + 1;
    for (;;) {
        if (g_think > 0)
            usleep((useconds_t)(g_think * (500 + rand_r(&seed) % 1000)));
        double t0 = now_ms();
        int st = request("POST", "/api/next", cookie, csrf, "{}", &rb, NULL, 0);
        double tn = now_ms(), ti = tn;
        j = json_loads(rb ? rb : "", 0, NULL);
        free(rb);
        json_t *it = json_object_get(j, "item");
        if (st != 200 || !json_is_object(it)) {
            op->errors += st != 200;
            json_decref(j);
            break;
        }
        const char *img = json_string_value(json_object_get(it, "image"));
        if (!img)
            img = json_string_value(json_object_get(it, "page_image"));
        if (img) {
            st = request("GET", img, cookie, NULL, NULL, &rb, NULL, 0);
            op->errors += st != 200;
            free(rb);
            ti = now_ms();
        }
        const char *input = json_string_value(json_object_get(it, "input"));
        const char *prop = json_string_value(json_object_get(it, "proposal"));
        json_t *opts = json_object_get(it, "options");
        char value[64] = "";
        int accept = 0;
        int prop_ok = prop && (!strcmp(prop, "") || !strcmp(prop, "-1"));
        for (size_t k = 0; prop && k < json_array_size(opts); k++) {
            char c[16];
            snprintf(c, sizeof c, "%lld", (long long)json_integer_value(json_object_get(json_array_get(opts, k), "code")));
            prop_ok |= !strcmp(c, prop);
        }
        if (!strcmp(input, "page"))
            snprintf(value, sizeof value, "reject");
        else if (!strcmp(input, "dup"))
            snprintf(value, sizeof value, "duplicate");
        else if (!strcmp(input, "missing"))
            snprintf(value, sizeof value, "missing");
        else if (!strcmp(input, "text"))
            value[0] = 0;
        else if ((!strcmp(input, "choice") || !strcmp(input, "set")) && prop_ok && prop[0])
            snprintf(value, sizeof value, "%s", prop), accept = 1;
        else if (json_array_size(opts))
            snprintf(value, sizeof value, "%lld", (long long)json_integer_value(json_object_get(json_array_get(opts, 0), "code")));
        op->keys += accept ? 1 : (long)strlen(value) + 1;
        json_t *d = json_pack("{s:O,s:s}", "item", json_object_get(it, "id"), "value", value);
        char *db = json_dumps(d, 0);
        st = request("POST", "/api/decide", cookie, csrf, db, &rb, NULL, 0);
        double t1 = now_ms();
        if (st == 409 && rb && strstr(rb, "\"settled\"")) {
            /* another operator's decision on the same respondent made this
             * item moot while it was on screen: the server says so (409,
             * settled) and nothing is written; a person would just go on */
            op->settled++;
        } else if (st != 200) {
            op->errors++;
            fprintf(stderr, "decide %s: %d %s\n", db, st, rb);
            if (op->errors > 20) { /* the same refusal over and over: stop, it is reported */
                free(rb);
                free(db);
                json_decref(d);
                json_decref(j);
                break;
            }
        } else {
            if (op->n == op->cap) {
                op->cap = op->cap ? op->cap * 2 : 256;
                op->ms = realloc(op->ms, (size_t)op->cap * sizeof *op->ms);
                for (int p = 0; p < 3; p++)
                    op->phase[p] = realloc(op->phase[p], (size_t)op->cap * sizeof *op->phase[p]);
            }
            op->phase[0][op->n] = tn - t0;
            op->phase[1][op->n] = ti - tn;
            op->phase[2][op->n] = t1 - ti;
            op->ms[op->n++] = t1 - t0;
        }
        free(rb);
        free(db);
        json_decref(d);
        json_decref(j);
    }
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: bench-review PORT OPERATORS PASSWORD PREFIX [THINK_MS]\n");
        return 1;
    }
    g_port = atoi(argv[1]);
    int n = atoi(argv[2]);
    g_pw = argv[3];
    g_prefix = argv[4];
    g_think = argc == 6 ? atoi(argv[5]) : 0;
    if (n < 1 || n > 200)
        return 1;
    op_t *ops = calloc((size_t)n, sizeof *ops);
    pthread_t *th = calloc((size_t)n, sizeof *th);
    double t0 = now_ms();
    for (int i = 0; i < n; i++) {
        ops[i].idx = i;
        pthread_create(&th[i], NULL, run, &ops[i]);
    }
    int total = 0, errors = 0, settled = 0;
    long keys = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        total += ops[i].n;
        errors += ops[i].errors;
        settled += ops[i].settled;
        keys += ops[i].keys;
    }
    double wall = now_ms() - t0;
    double *all = malloc((size_t)(total + 1) * sizeof *all);
    int k = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < ops[i].n; j++)
            all[k++] = ops[i].ms[j];
    qsort(all, (size_t)total, sizeof *all, cmp);
    double p50 = total ? all[total / 2] : 0, p95 = total ? all[(int)(total * 0.95)] : 0, mx = total ? all[total - 1] : 0;
    double pp[3];
    for (int p = 0; p < 3; p++) {
        k = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < ops[i].n; j++)
                all[k++] = ops[i].phase[p][j];
        qsort(all, (size_t)total, sizeof *all, cmp);
        pp[p] = total ? all[(int)(total * 0.95)] : 0;
    }
    printf("bench-review: think_ms=%d operators=%d items=%d p50_ms=%.1f p95_ms=%.1f max_ms=%.1f items_per_s=%.0f"
           " keys_per_item=%.2f errors=%d settled_elsewhere=%d p95_next/image/decide_ms=%.1f/%.1f/%.1f\n",
           g_think, n, total, p50, p95, mx, total / (wall / 1e3), total ? (double)keys / total : 0, errors, settled,
           pp[0], pp[1], pp[2]);
    for (int i = 0; i < n; i++) {
        free(ops[i].ms);
        for (int p = 0; p < 3; p++)
            free(ops[i].phase[p]);
    }
    free(all);
    free(ops);
    free(th);
    return errors ? 2 : 0;
}
