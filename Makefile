# omr -- optical mark recognition for mailed questionnaires.
#
#   make            build build/omr and the tools (build/<tool>)
#   make check      install what is missing, build with ASan+UBSan, run every test
#   make demo       install what is missing, print, fill, scan, code and show a small job
#   make corpus     write the standard simulated corpus to build/corpus/
#   make bench      benchmarks (speed and memory targets are measured here, never in tests)
#   make accuracy   score the scan of the standard corpus against its truth
#                   (accuracy-holdout: another seed; accuracy-bubbles: mark sheets)
#
# Layout: omr/*.c is the library (libomr.a) plus omr/main.c, the `omr` command;
# tools/<name>/*.c builds build/<name>; tests/test_<name>.c builds
# build/tests/test_<name>. New files are picked up without editing this file.

PKG_CONFIG ?= pkg-config
PKGS = libtiff-4 libpng libjpeg lept zbar sqlite3 jansson libmicrohttpd libsodium \
       cairo pangocairo pangoft2 fontconfig zlib libcrypto

B ?= build
CC ?= cc
OPT ?= -O2
CFLAGS ?= $(OPT) -g
WERROR ?= -Werror
override CFLAGS += -std=c11 -D_GNU_SOURCE -Wall -Wextra $(WERROR) -fno-strict-aliasing -pthread
ifeq ($(SAN),1)
override CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
override LDFLAGS += -fsanitize=address,undefined
endif

ifeq ($(MAKECMDGOALS),)
need_pkgs = 1
endif
ifneq ($(filter all build %omr tools tests bench corpus accuracy accuracy-holdout accuracy-bubbles,$(MAKECMDGOALS)),)
need_pkgs = 1
endif
ifdef need_pkgs
MISSING := $(shell for p in $(PKGS); do $(PKG_CONFIG) --exists $$p || printf '%s ' $$p; done)
ifneq ($(strip $(MISSING)),)
$(error missing libraries: $(MISSING)-- run tools/install-deps.sh (or make check / make demo, which run it))
endif
endif

PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
# Debian's libzint-dev ships no .pc file; use it when one appears.
ZINT_LIBS := $(shell $(PKG_CONFIG) --libs zint 2>/dev/null || echo -lzint)
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) $(ZINT_LIBS) -lm
override CFLAGS += $(PKG_CFLAGS) -Iomr

LIB_SRC  := $(filter-out omr/main.c,$(wildcard omr/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(B)/obj/%.o)
TOOLS    := $(notdir $(patsubst %/,%,$(dir $(wildcard tools/*/*.c))))
TOOL_BIN := $(addprefix $(B)/,$(sort $(TOOLS)))
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(B)/tests/%)

.PHONY: all build tools tests check check-symbols demo corpus corpus-small bench accuracy accuracy-holdout accuracy-bubbles clean deps fmt train-icr
all: $(B)/omr tools
build: all
tools: $(TOOL_BIN)
tests: $(B)/omr $(TOOL_BIN) $(TEST_BIN)

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC $<"
	@$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(B)/libomr.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/omr: $(B)/obj/omr/main.o $(B)/libomr.a
	@echo "  LD $@"
	@$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

.SECONDEXPANSION:
$(TOOL_BIN): $(B)/%: $$(patsubst %.c,$(B)/obj/%.o,$$(wildcard tools/$$*/*.c)) $(B)/libomr.a
	@echo "  LD $@"
	@$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(TEST_BIN): $(B)/tests/test_%: $(B)/obj/tests/test_%.o $(B)/libomr.a
	@mkdir -p $(dir $@)
	@echo "  LD $@"
	@$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

deps:
	@./tools/install-deps.sh

# The test run: sanitizer build in build/san so it never mixes with the normal build.
check: deps
	$(MAKE) --no-print-directory B=build/san SAN=1 OPT=-O1 tests
	$(MAKE) --no-print-directory all check-symbols
	./tests/run.sh build/san

# Every name the library exports starts with omr_ (STYLE.md); the one
# exception is the LeakSanitizer hook in print.c (fontconfig's caches).
check-symbols: $(B)/libomr.a
	@bad=$$(nm -g --defined-only $(B)/libomr.a | awk 'NF == 3 {print $$3}' | \
	  grep -v -e '^omr_' -e '^__lsan_default_suppressions$$' | sort -u); \
	if [ -n "$$bad" ]; then echo "exported names without the omr_ prefix:"; echo "$$bad"; exit 1; fi; \
	echo "check-symbols: every exported name starts with omr_"

corpus: all
	./tools/make-corpus.sh $(B) $(B)/corpus

corpus-small: all
	./tools/make-corpus.sh --small $(B) $(B)/corpus-small

demo: deps
	$(MAKE) --no-print-directory all
	./tools/demo.sh $(B)

bench: all
	./tools/bench.sh $(B)

accuracy: all
	./tools/accuracy.sh $(B)

# The same on a held-out corpus (another seed, 100 respondents per form): the
# rules and thresholds were measured on the standard corpus, this one was not
# looked at while tuning them.
accuracy-holdout: all
	HOLDOUT=1 ./tools/accuracy.sh $(B) $(B)/holdout

# Bubble reading at scale: 500 simulated mark sheets of tests/data/bubble-sheet
# (identify=order, no barcode) in mixed scan conditions, scored the same way.
accuracy-bubbles: all
	./tools/accuracy-bubbles.sh $(B)

# Retrain the handwritten-digit model (about 10 minutes on 2 cores). Trains on
# the MNIST train split only; picks the auto-accept threshold on the val split.
train-icr: $(B)/train-icr
	$(B)/train-icr --data ../shared/data/digits --seed 1 --out omr/icr_model.c

fmt:
	clang-format -i omr/*.c omr/*.h tools/*/*.c tests/*.c tests/*.h

clean:
	rm -rf build

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
