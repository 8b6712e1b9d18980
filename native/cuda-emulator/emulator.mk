# The CPU-run CUDA driver (a test instrument; docs/cuda-emulator.md), included by native/Makefile,
# which defines BUILD, CC, OPT, WARNINGS, SANITIZE and NVCC.
#
#   make cuda-emulator    $(BUILD)/cuda-emulator/libcuda.so.1, SONAME libcuda.so.1: compiled against
#                         $(CUDA_HOME)/include/cuda.h when it exists (every entry point checked against
#                         the real prototype), else against cuda-emulator/cuda_decls.h;
#                         EMULATOR_NO_CUDA_H=1 forces the latter
#   make emulator-test    the export check and the emulator's C tests, plain and under
#                         AddressSanitizer/UBSan (build-asan/); they load the real fatbin of `make cuda`

CUDA_HOME ?= /usr/local/cuda
EMU_BUILD = $(BUILD)/cuda-emulator
EMU_LIB = $(EMU_BUILD)/libcuda.so.1
EMU_SOURCES := $(addprefix cuda-emulator/,core.c device.c context.c ctx_query.c primary.c memory.c host.c \
  resolve.c pointer.c stream.c stream_api.c event.c copy.c memset.c image.c elf.c ptx.c module.c kernels.c \
  launch.c errors.c instrument.c ipc.c unsupported.c)
EMU_HEADERS := $(addprefix cuda-emulator/,emu.h cuda_api.h cuda_decls.h lmcache4j_cuda_emulator.h) cuda/kv_index.h
ifeq ($(EMULATOR_NO_CUDA_H),)
EMU_CUDA_H := $(wildcard $(CUDA_HOME)/include/cuda.h)
endif
EMU_CPPFLAGS := -Icuda-emulator -Icuda $(if $(EMU_CUDA_H),-DEMU_USE_CUDA_H -I$(CUDA_HOME)/include)
EMU_CFLAGS = -std=c11 -D_GNU_SOURCE $(OPT) $(WARNINGS) $(SANITIZE) -pthread -fno-strict-aliasing

EMU_TESTS := test_context test_memory test_copy test_stream test_event test_module test_launch test_ipc
EMU_TEST_BINS = $(addprefix $(EMU_BUILD)/,$(EMU_TESTS))
EMU_FATBIN ?= $(BUILD)/kv_transfer.fatbin
EMU_PTX ?= $(BUILD)/cuda-emulator/kv_transfer.ptx
EMU_CUDA_INCLUDE := $(if $(EMU_CUDA_H),$(CUDA_HOME)/include/cuda.h)

# The JVM-free tests need no suppressions; SIGSEGV must stay fatal (a test forks a child to die of it).
EMU_RUN_ENV := ASAN_OPTIONS=handle_segv=0:allow_user_segv_handler=1:detect_leaks=1:abort_on_error=0:exitcode=23 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 LMCACHE4J_CUDA_EMULATOR_MEMORY_GB=16

.PHONY: cuda-emulator emulator-test emulator-run emulator-exports

cuda-emulator: $(EMU_LIB)

$(EMU_LIB): $(EMU_SOURCES) $(EMU_HEADERS) cuda-emulator/libcuda.map cuda-emulator/emulator.mk
	@mkdir -p $(EMU_BUILD)
	$(CC) $(EMU_CPPFLAGS) $(EMU_CFLAGS) -fPIC -fvisibility=hidden -shared -o $@ $(EMU_SOURCES) \
	  -Wl,--version-script=cuda-emulator/libcuda.map -Wl,-z,defs -Wl,-soname,libcuda.so.1

# Each test is its own process: cuInit and the primary contexts are process-wide. test_launch also
# compiles kv_host.c, the reference its kernels' bytes are compared with. emu_test.h takes CHECK
# from tests/check.h, which includes the C ABI's header (include/).
$(EMU_BUILD)/test_%: cuda-emulator/tests/test_%.c cuda-emulator/tests/emu_test.h tests/check.h include/lmcache4j.h \
  $(EMU_LIB)
	$(CC) $(EMU_CPPFLAGS) -Iinclude $(EMU_CFLAGS) -o $@ $(filter %.c,$^) $(EMU_LIB) -Wl,-rpath,'$$ORIGIN'

$(BUILD)/cuda-emulator/test_launch: cuda/kv_host.c

# PTX text for the loader's PTX path (the fatbin's own PTX is compressed).
$(BUILD)/cuda-emulator/kv_transfer.ptx: cuda/kv_transfer.cu cuda/kv_index.h
	@mkdir -p $(dir $@)
	$(NVCC) -ptx -arch=compute_90 -o $@ cuda/kv_transfer.cu

# Every symbol JCuda 12.6.0 binds is exported; nothing but cu* and the instrument API is; the SONAME.
emulator-exports: $(EMU_LIB)
	@nm -D --defined-only $(EMU_LIB) | awk '{print $$3}' | sort > $(EMU_BUILD)/exports.txt; \
	missing=$$(grep -v '^#' cuda-emulator/jcuda-12.6.0-symbols.txt | sort | comm -23 - $(EMU_BUILD)/exports.txt); \
	if [ -n "$$missing" ]; then echo "libcuda.so.1 lacks symbols JCuda binds:" $$missing >&2; exit 1; fi; \
	bad=$$(grep -Ev '^(cu[A-Z]|lmcache4j_cuda_emulator_)' $(EMU_BUILD)/exports.txt || true); \
	if [ -n "$$bad" ]; then echo "libcuda.so.1 exports symbols outside the driver API:" $$bad >&2; exit 1; fi; \
	soname=$$(readelf -d $(EMU_LIB) | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p'); \
	if [ "$$soname" != libcuda.so.1 ]; then echo "SONAME is '$$soname', not libcuda.so.1" >&2; exit 1; fi; \
	echo "emulator exports: $$(wc -l < $(EMU_BUILD)/exports.txt) symbols, all cu* or lmcache4j_cuda_emulator_*," \
	  "every one of the $$(grep -vc '^#' cuda-emulator/jcuda-12.6.0-symbols.txt) JCuda 12.6.0 binds; SONAME libcuda.so.1"

emulator-run: $(EMU_TEST_BINS) emulator-exports
	@fail=0; for t in $(EMU_TEST_BINS); do \
	  $(EMU_RUN_ENV) LMCACHE4J_TEST_FATBIN=$(EMU_FATBIN) LMCACHE4J_TEST_PTX=$(EMU_PTX) \
	    LMCACHE4J_TEST_CUDA_H=$(EMU_CUDA_INCLUDE) $$t || { echo "FAILED: $$t" >&2; fail=1; }; \
	done; exit $$fail

emulator-test: $(EMU_FATBIN) $(EMU_PTX)
	$(MAKE) --no-print-directory emulator-run EMU_FATBIN=$(abspath $(EMU_FATBIN)) EMU_PTX=$(abspath $(EMU_PTX))
	$(MAKE) --no-print-directory BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
	  SANITIZE="-fsanitize=address,undefined" emulator-run EMU_FATBIN=$(abspath $(EMU_FATBIN)) \
	  EMU_PTX=$(abspath $(EMU_PTX))
