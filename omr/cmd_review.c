/* cmd_review.c -- `omr review`: serve the review queue to operators' browsers
 * until interrupted (review.h does the work). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cmd.h"
#include "review.h"

#define DEFAULT_TEMPLATE "templates/ipa-itsc-2018"

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig) { (void)sig, stop_requested = 1; }

static void usage(FILE *out)
{
    fprintf(out,
            "usage: omr review --db FILE [--listen HOST:PORT] [--template DIR] [--lease SECONDS] [--images DIR]...\n"
            "Serve the review queue: operators log in with a browser at http://HOST:PORT/\n"
            "and resolve the flagged items by keyboard (press ? on the page for the keys).\n"
            "  --db FILE          the store written by 'omr scan'\n"
            "  --listen HOST:PORT address to listen on (default 127.0.0.1:8080, loopback only;\n"
            "                     to serve the office, keep loopback and put a TLS reverse proxy in\n"
            "                     front that passes Host, X-Forwarded-Proto and X-Forwarded-For: README)\n"
            "  --template DIR     the survey's templates (default " DEFAULT_TEMPLATE ")\n"
            "  --lease SECONDS    an item an operator opened returns to the queue after this (default 300)\n"
            "  --session-hours N  a session ends after N hours without a request (default 8)\n"
            "  --images DIR       where the scans are now, if they were moved after the scan (repeatable;\n"
            "                     searched with its subfolders). A page is only ever shown from a file\n"
            "                     with the SHA-256 the scan stored: a file written over since is refused\n"
            "Operators are made with 'omr operator add NAME'. Stop with Ctrl-C.\n"
            "Exit status: 0 stopped, 1 usage error, 2 the store, templates or address cannot be used.\n");
}

int omr_cmd_review(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, 0, 'h'},          {"db", required_argument, 0, 'd'},
                                         {"listen", required_argument, 0, 'l'},  {"template", required_argument, 0, 't'},
                                         {"lease", required_argument, 0, 'L'},   {"session-hours", required_argument, 0, 'S'},
                                         {"images", required_argument, 0, 'i'},  {0, 0, 0, 0}};
    const char *dirs[OMR_CMD_MAX_IMAGE_DIRS];
    int n_dirs = 0;
    omr_review_opts_t o;
    omr_review_opts_default(&o);
    o.template_path = DEFAULT_TEMPLATE;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'h':
            usage(stdout);
            return OMR_EXIT_OK;
        case 'd':
            o.db_path = optarg;
            break;
        case 'l':
            o.listen = optarg;
            break;
        case 't':
            o.template_path = optarg;
            break;
        case 'L':
            o.lease_seconds = atoi(optarg);
            if (o.lease_seconds < 10 || o.lease_seconds > 86400) {
                fprintf(stderr, "omr review: --lease %s: 10..86400 seconds\n", optarg);
                return OMR_EXIT_USAGE;
            }
            break;
        case 'i':
            if (omr_cmd_add_image_dir("review", optarg, dirs, &n_dirs))
                return OMR_EXIT_USAGE;
            break;
        case 'S':
            o.session_seconds = atoi(optarg) * 3600;
            if (o.session_seconds < 3600 || o.session_seconds > 7 * 86400) {
                fprintf(stderr, "omr review: --session-hours %s: 1..168\n", optarg);
                return OMR_EXIT_USAGE;
            }
            break;
        default:
            fprintf(stderr, "try 'omr review --help'\n");
            return OMR_EXIT_USAGE;
        }
    }
    o.image_dirs = dirs;
    o.n_image_dirs = n_dirs;
    if (!o.db_path || optind != argc) {
        fprintf(stderr, "omr review: needs --db FILE and no other arguments; try 'omr review --help'\n");
        return OMR_EXIT_USAGE;
    }
    if (access(o.db_path, R_OK | W_OK) != 0) {
        fprintf(stderr, "omr review: %s: no such store (run 'omr scan --db %s ...' first)\n", o.db_path, o.db_path);
        return OMR_EXIT_FAILED;
    }
    omr_error_t err;
    omr_survey_t *survey;
    if (omr_template_load(o.template_path, &survey, &err)) {
        fprintf(stderr, "omr review: templates: %s\n", err.msg);
        return OMR_EXIT_FAILED;
    }
    /* checked here, not in the server: a store of other templates is a
     * failure (exit 2), not a usage error */
    omr_store_t *store = NULL;
    int bound = omr_store_open(o.db_path, &store, &err) ? OMR_EXIT_FAILED
                                                        : omr_cmd_bind_store("review", o.db_path, store, survey);
    if (!store)
        fprintf(stderr, "omr review: %s\n", err.msg);
    omr_store_close(store);
    omr_template_free(survey);
    if (bound != OMR_EXIT_OK)
        return OMR_EXIT_FAILED;
    omr_review_server_t *srv;
    if (omr_review_start(&o, &srv, &err)) {
        fprintf(stderr, "omr review: %s\n", err.msg);
        return err.status == OMR_EINPUT ? OMR_EXIT_USAGE : OMR_EXIT_FAILED;
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    char host[64] = "127.0.0.1";
    sscanf(o.listen, "%63[^:]", host);
    printf("omr review: serving %s on http://%s:%d/ (Ctrl-C stops)\n", o.db_path, host, omr_review_port(srv));
    fflush(stdout);
    while (!stop_requested)
        pause();
    omr_review_stop(srv);
    printf("omr review: stopped\n");
    return OMR_EXIT_OK;
}
