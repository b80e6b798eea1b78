/* fuzz_payload.c -- fuzz target: the page barcode payload ("ITSC18-A03-000123").
 *
 * The payload is whatever zbar decoded from a scanned page, i.e. any bytes a
 * sheet (or a stray barcode on it) carries. Checks, besides memory safety:
 * a payload that parses prints back (omr_template_payload) to a text that
 * parses to the same fields, so a page identified once is identified the
 * same way again, and the fields fit the sizes identify.h promises.
 * Input: the payload bytes (cut at the first NUL, as zbar text would be).
 */
#include <stdint.h>

#include "fuzz.h"
#include "template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1024) /* omr_barcode_t holds 128 bytes; longer is never a payload */
        return 0;
    char *text = fuzz_strdup(data, size);
    char code[16], form[16], resp[32];
    int page = -1;
    if (omr_template_parse_payload(text, code, form, &page, resp) == OMR_OK) {
        fuzz_check(strlen(code) >= 2 && strlen(code) <= 8);
        fuzz_check(strlen(form) >= 1 && strlen(form) < sizeof form);
        fuzz_check(strlen(resp) >= 1 && strlen(resp) < sizeof resp);
        fuzz_check(page >= 1 && page <= 99);
        char again[128];
        omr_template_payload(again, sizeof again, code, form, page, resp);
        char code2[16], form2[16], resp2[32];
        int page2 = -1;
        fuzz_check(omr_template_parse_payload(again, code2, form2, &page2, resp2) == OMR_OK);
        fuzz_check(!strcmp(code, code2) && !strcmp(form, form2) && !strcmp(resp, resp2));
        fuzz_check(page == page2);
    }
    free(text);
    return 0;
}
