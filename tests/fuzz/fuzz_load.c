/* fuzz_load.c -- fuzz target: scanned image files (TIFF, PNG, JPEG) through
 * the loader, and the pages it yields through the barcode reader.
 *
 * Scans arrive from scanners, network shares and e-mail; a damaged or
 * hostile file must come out as a failed page with a message, never a crash
 * or an unbounded allocation (load.h limits). The bytes are written to a
 * scratch folder under two names, in.png and in.tif (the format is sniffed
 * from the content; the names make the folder walk take the file), and
 *   1. the folder is iterated with omr_load_open + omr_load_next to the end,
 *      checking the page records (1 or 8 bpp, a message on every failure);
 *   2. a TIFF with more than one page is read again at page 2 with
 *      omr_load_page (the review UI's path, TIFFSetDirectory);
 *   3. small pages (<= 1 MP, so that one input stays fast) go through
 *      omr_identify_is_blank and omr_identify_read (zbar on the pixels,
 *      then the payload parser).
 * Input: the file's bytes, at most 1 MB.
 */
#include <stdint.h>

#include "fuzz.h"
#include "identify.h"
#include "load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Pages beyond this are not decoded (a fuzzed TIFF can chain many tiny
 * directories; the loader's behaviour on page 65 is that of page 2). */
#define MAX_PAGES 64

static void check_page(const omr_image_t *img)
{
    fuzz_check(img->pix != NULL);
    int d = pixGetDepth(img->pix);
    fuzz_check(d == 1 || d == 8);
    fuzz_check(pixGetWidth(img->pix) > 0 && pixGetWidth(img->pix) <= OMR_LOAD_MAX_SIDE);
    fuzz_check(pixGetHeight(img->pix) > 0 && pixGetHeight(img->pix) <= OMR_LOAD_MAX_SIDE);
    if ((double)pixGetWidth(img->pix) * pixGetHeight(img->pix) > 1e6)
        return;
    omr_error_t err;
    int blank = -1;
    double ink = -1;
    omr_status_t st = omr_identify_is_blank(img->pix, 0, &blank, &ink, &err);
    /* a page of a few pixels is refused (too small to measure): fine */
    fuzz_check(st == OMR_OK || (st == OMR_EINPUT && err.msg[0]));
    if (st == OMR_OK)
        fuzz_check(blank == 0 || blank == 1);
    omr_barcode_t bc;
    st = omr_identify_read(img->pix, NULL, &bc, &err);
    fuzz_check(st == OMR_OK || st == OMR_ENOTFOUND || st == OMR_EINPUT || st == OMR_ENOMEM);
    if (st == OMR_OK)
        fuzz_check(bc.parsed && bc.page >= 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    if (!quiet) {
        omr_quiet_libraries();
        quiet = 1;
    }
    if (size > (1u << 20))
        return 0;
    char tif[512], png[512];
    fuzz_write("in.tif", data, size, tif, sizeof tif);
    snprintf(png, sizeof png, "%s/in.png", fuzz_dir());
    unlink(png);
    if (link(tif, png) != 0)
        fuzz_write("in.png", data, size, png, sizeof png);

    omr_load_t *src = NULL;
    omr_error_t err;
    fuzz_check(omr_load_open(fuzz_dir(), &src, &err) == OMR_OK);
    omr_image_t img;
    omr_status_t st;
    int n = 0, tiff_pages = 0;
    while (n < 2 * MAX_PAGES && (st = omr_load_next(src, &img, &err)) != OMR_ENOTFOUND) {
        if (st == OMR_OK) {
            check_page(&img);
            if (img.format == OMR_FORMAT_TIFF && img.n_pages > tiff_pages)
                tiff_pages = img.n_pages;
        } else {
            fuzz_check(img.pix == NULL);
            fuzz_check(strlen(err.msg) > 0);
        }
        omr_image_clear(&img);
        n++;
    }
    omr_load_close(src);

    if (tiff_pages > 1) {
        st = omr_load_page(tif, 1, &img, &err);
        if (st == OMR_OK)
            check_page(&img);
        else
            fuzz_check(img.pix == NULL);
        omr_image_clear(&img);
    }
    return 0;
}
