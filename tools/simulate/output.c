/* output.c -- the simulator's image writers: multi-page TIFF (G4 bitonal or
 * LZW grey), grey PNG, grey JPEG, each with its resolution recorded.
 *
 * The files must be the same bytes for the same pixels, whatever the day or
 * the worker: no DateTime or Software tag in TIFF, no tIME chunk in PNG, and
 * fixed strip sizes and compression settings. libtiff, libpng and libjpeg are
 * used directly (not Leptonica's writers) to control exactly what goes in.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h> /* after stdio.h: it uses FILE and size_t without including them */
#include <png.h>
#include <tiffio.h>

#include "scan_internal.h"

/* ------------------------------------------------------------------- TIFF */

/* libtiff reports through a process-wide handler; keep its last message so
 * the caller's error names the reason instead of libtiff printing it. */
static char tiff_last_error[512];

static void tiff_error_handler(const char *module, const char *fmt, va_list ap)
{
    char msg[400];
    vsnprintf(msg, sizeof msg, fmt, ap);
    snprintf(tiff_last_error, sizeof tiff_last_error, "%s: %s", module ? module : "libtiff", msg);
}

static void tiff_warning_handler(const char *module, const char *fmt, va_list ap)
{
    (void)module;
    (void)fmt;
    (void)ap;
}

struct sim_tiff {
    TIFF *tif;
    char path[1024];
    int pages;
    int failed;
};

sim_tiff_t *sim_tiff_open(const char *path, omr_error_t *err)
{
    TIFFSetErrorHandler(tiff_error_handler);
    TIFFSetWarningHandler(tiff_warning_handler);
    tiff_last_error[0] = '\0';
    sim_tiff_t *t = calloc(1, sizeof *t);
    if (!t) {
        omr_error_set(err, OMR_ENOMEM, "%s: out of memory", path);
        return NULL;
    }
    snprintf(t->path, sizeof t->path, "%s", path);
    t->tif = TIFFOpen(path, "w");
    if (!t->tif) {
        omr_error_set(err, OMR_EIO, "%s: cannot create TIFF: %s", path, tiff_last_error);
        free(t);
        return NULL;
    }
    return t;
}

int sim_tiff_add(sim_tiff_t *t, const sim_image_t *img, omr_error_t *err)
{
    TIFF *tif = t->tif;
    int bitonal = img->bpp == 1;
    tiff_last_error[0] = '\0';
    TIFFSetField(tif, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE);
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, (uint32_t)img->w);
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, (uint32_t)img->h);
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, bitonal ? 1 : 8);
    TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(tif, TIFFTAG_ORIENTATION, ORIENTATION_TOPLEFT);
    TIFFSetField(tif, TIFFTAG_XRESOLUTION, (float)img->dpi);
    TIFFSetField(tif, TIFFTAG_YRESOLUTION, (float)img->dpi);
    TIFFSetField(tif, TIFFTAG_RESOLUTIONUNIT, RESUNIT_INCH);
    TIFFSetField(tif, TIFFTAG_PAGENUMBER, (uint16_t)t->pages, (uint16_t)0);
    if (bitonal) {
        /* G4 as fax machines and scanners write it: one strip, 1 = black. */
        TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_CCITTFAX4);
        TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISWHITE);
        TIFFSetField(tif, TIFFTAG_FILLORDER, FILLORDER_MSB2LSB);
        TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, (uint32_t)img->h);
    } else {
        TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_LZW);
        TIFFSetField(tif, TIFFTAG_PREDICTOR, PREDICTOR_HORIZONTAL);
        TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
        uint32_t rps = (uint32_t)(65536 / img->w);
        TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, rps < 1 ? 1 : rps);
    }
    /* The predictor works in place on the row it is given: pass a copy. */
    uint8_t *row = malloc((size_t)img->stride);
    if (!row)
        return omr_error_set(err, OMR_ENOMEM, "%s: out of memory", t->path), -1;
    for (int y = 0; y < img->h; y++) {
        memcpy(row, img->data + (size_t)y * img->stride, (size_t)img->stride);
        if (TIFFWriteScanline(tif, row, (uint32_t)y, 0) < 0) {
            free(row);
            t->failed = 1;
            omr_error_set(err, OMR_EIO, "%s: page %d: writing row %d failed: %s", t->path,
                          t->pages + 1, y, tiff_last_error);
            return -1;
        }
    }
    free(row);
    if (!TIFFWriteDirectory(tif)) {
        t->failed = 1;
        omr_error_set(err, OMR_EIO, "%s: page %d: writing the directory failed: %s", t->path,
                      t->pages + 1, tiff_last_error);
        return -1;
    }
    t->pages++;
    return 0;
}

int sim_tiff_close(sim_tiff_t *t, omr_error_t *err)
{
    if (!t)
        return 0;
    TIFFClose(t->tif);
    int rc = 0;
    if (t->failed) {
        omr_error_set(err, OMR_EIO, "%s: incomplete", t->path);
        rc = -1;
    }
    free(t);
    return rc;
}

/* -------------------------------------------------------------------- PNG */

static void png_error_fn(png_structp png, png_const_charp msg)
{
    char *buf = png_get_error_ptr(png);
    if (buf)
        snprintf(buf, 256, "%s", msg);
    png_longjmp(png, 1);
}

static void png_warning_fn(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

int sim_write_png(const char *path, const sim_image_t *img, omr_error_t *err)
{
    if (img->bpp != 8)
        return omr_error_set(err, OMR_EINPUT, "%s: PNG writer takes 8-bit grey", path), -1;
    FILE *f = fopen(path, "wb");
    if (!f)
        return omr_error_set(err, OMR_EIO, "%s: cannot create", path), -1;
    static char msg[256];
    msg[0] = '\0';
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, msg, png_error_fn, png_warning_fn);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return omr_error_set(err, OMR_ENOMEM, "%s: out of memory", path), -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return omr_error_set(err, OMR_EIO, "%s: writing PNG failed: %s", path, msg), -1;
    }
    png_init_io(png, f);
    /* Speed over size: a grey scan's sensor noise barely compresses, so
     * zlib level 1 without row filters writes a 300-dpi page several times
     * faster than the defaults for about the same file size. */
    png_set_compression_level(png, 1);
    png_set_filter(png, 0, PNG_FILTER_NONE);
    png_set_IHDR(png, info, (png_uint_32)img->w, (png_uint_32)img->h, 8, PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_uint_32 ppm = (png_uint_32)(img->dpi / 0.0254 + 0.5);
    png_set_pHYs(png, info, ppm, ppm, PNG_RESOLUTION_METER);
    png_write_info(png, info);
    for (int y = 0; y < img->h; y++)
        png_write_row(png, img->data + (size_t)y * img->stride);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    if (fclose(f) != 0)
        return omr_error_set(err, OMR_EIO, "%s: write failed", path), -1;
    return 0;
}

/* ------------------------------------------------------------------- JPEG */

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jmp;
    char msg[JMSG_LENGTH_MAX];
} jpeg_err_t;

static void jpeg_error_exit(j_common_ptr cinfo)
{
    jpeg_err_t *e = (jpeg_err_t *)cinfo->err;
    e->pub.format_message(cinfo, e->msg);
    longjmp(e->jmp, 1);
}

static void jpeg_output_message(j_common_ptr cinfo) { (void)cinfo; }

int sim_write_jpeg(const char *path, const sim_image_t *img, int quality, omr_error_t *err)
{
    if (img->bpp != 8)
        return omr_error_set(err, OMR_EINPUT, "%s: JPEG writer takes 8-bit grey", path), -1;
    FILE *f = fopen(path, "wb");
    if (!f)
        return omr_error_set(err, OMR_EIO, "%s: cannot create", path), -1;
    struct jpeg_compress_struct cinfo;
    static jpeg_err_t jerr; /* static: survives longjmp without volatile games */
    memset(&jerr, 0, sizeof jerr);
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = jpeg_error_exit;
    jerr.pub.output_message = jpeg_output_message;
    if (setjmp(jerr.jmp)) {
        jpeg_destroy_compress(&cinfo);
        fclose(f);
        return omr_error_set(err, OMR_EIO, "%s: writing JPEG failed: %s", path, jerr.msg), -1;
    }
    jpeg_create_compress(&cinfo);
    jpeg_stdio_dest(&cinfo, f);
    cinfo.image_width = (JDIMENSION)img->w;
    cinfo.image_height = (JDIMENSION)img->h;
    cinfo.input_components = 1;
    cinfo.in_color_space = JCS_GRAYSCALE;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    cinfo.write_JFIF_header = TRUE;
    cinfo.density_unit = 1; /* dots per inch */
    cinfo.X_density = (UINT16)img->dpi;
    cinfo.Y_density = (UINT16)img->dpi;
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = img->data + (size_t)cinfo.next_scanline * img->stride;
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    if (fclose(f) != 0)
        return omr_error_set(err, OMR_EIO, "%s: write failed", path), -1;
    return 0;
}
