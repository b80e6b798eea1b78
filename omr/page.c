/* page.c -- page results and review reasons (page.h). */
#include "page.h"

#include <stdlib.h>
#include <string.h>

void omr_page_result_clear(omr_page_result_t *r)
{
    if (!r)
        return;
    free(r->regions);
    memset(r, 0, sizeof *r);
}

static const struct {
    omr_review_reason_t reason;
    const char *name, *text;
} reasons[] = {
    {OMR_REVIEW_DOUBTFUL_MARK, "doubtful_mark", "faint or doubtful mark"},
    {OMR_REVIEW_MULTIPLE_MARKS, "multiple_marks", "two marks where one is allowed"},
    {OMR_REVIEW_EXCLUSIVE, "exclusive", "exclusive option marked with others"},
    {OMR_REVIEW_ROUTING, "routing", "answered although the routing skips it"},
    {OMR_REVIEW_OTHER_TEXT, "other_text", "\"other\" marked without text, or text without the mark"},
    {OMR_REVIEW_HANDWRITTEN, "handwritten", "handwritten number box"},
    {OMR_REVIEW_TEXT, "text", "handwritten text to transcribe"},
    {OMR_REVIEW_NO_BARCODE, "no_barcode", "page without a readable barcode"},
    {OMR_REVIEW_UNKNOWN_PAGE, "unknown_page", "page of another survey, or an unknown form or page"},
    {OMR_REVIEW_REGISTER, "register_failed", "page could not be registered (corner marks or print not found)"},
    {OMR_REVIEW_DUPLICATE, "duplicate_page", "the same page scanned twice"},
    {OMR_REVIEW_UNREADABLE, "unreadable", "image could not be read"},
    {OMR_REVIEW_INVALID_VALUE, "invalid_value", "written value outside the options, or repeated"},
    {OMR_REVIEW_MISSING_PAGE, "missing_page", "page missing from the respondent's packet"},
};

const char *omr_review_reason_text(omr_review_reason_t reason)
{
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        if (reasons[i].reason == reason)
            return reasons[i].text;
    return "unknown reason";
}

const char *omr_review_reason_name(omr_review_reason_t reason)
{
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        if (reasons[i].reason == reason)
            return reasons[i].name;
    return "unknown";
}
