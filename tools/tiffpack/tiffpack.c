/* tiffpack -- put scanned pages into one multi-page TIFF, as a sheet-fed
 * scanner writes a returned questionnaire.
 *
 *   build/tiffpack [--dpi N] OUT.tif PAGE...
 *
 * Each PAGE is an image file Leptonica reads (PNG, TIFF, JPEG, PNM). Bitonal
 * pages are written as CCITT G4, others as LZW; the resolution of each page
 * is kept, unless --dpi N sets it for every page (pdfimages writes 72 dpi
 * into PNGs whatever the scan's resolution was). Used by tests/quexf_real.sh: queXF's scans come as one PNG per
 * page, and omr takes one file per respondent for forms whose barcode holds
 * only a page ID. Exit status 0 ok, 1 usage, 2 an input or the output failed.
 */
#include <leptonica/allheaders.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    int dpi = 0, first = 1;
    if (argc > 2 && !strcmp(argv[1], "--dpi")) {
        dpi = atoi(argv[2]);
        first = 3;
    }
    if (argc - first < 2 || (first == 3 && (dpi < 50 || dpi > 2400))) {
        fprintf(stderr, "usage: tiffpack [--dpi 50..2400] OUT.tif PAGE...\n");
        return 1;
    }
    setLeptDebugOK(0);
    const char *out = argv[first];
    remove(out);
    for (int i = first + 1; i < argc; i++) {
        PIX *pix = pixRead(argv[i]);
        if (!pix) {
            fprintf(stderr, "tiffpack: %s: not an image Leptonica reads\n", argv[i]);
            return 2;
        }
        if (dpi)
            pixSetResolution(pix, dpi, dpi);
        /* 8-bit PNGs holding only black and white stay bitonal */
        PIX *page = pix;
        if (pixGetDepth(pix) == 8 && !pixGetColormap(pix)) {
            l_int32 ncolors = 0;
            if (pixNumColors(pix, 1, &ncolors) == 0 && ncolors <= 2)
                page = pixThresholdToBinary(pix, 128);
        }
        int format = page && pixGetDepth(page) == 1 ? IFF_TIFF_G4 : IFF_TIFF_LZW;
        if (page && page != pix)
            pixCopyResolution(page, pix);
        int bad = !page || pixWriteTiff(out, page, format, i == first + 1 ? "w" : "a");
        if (page != pix)
            pixDestroy(&page);
        pixDestroy(&pix);
        if (bad) {
            fprintf(stderr, "tiffpack: %s: cannot write page %d\n", out, i - first);
            return 2;
        }
    }
    return 0;
}
