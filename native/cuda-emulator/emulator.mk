# Rules of the CPU-run CUDA driver; filled in with the emulator.
.PHONY: cuda-emulator emulator-test
