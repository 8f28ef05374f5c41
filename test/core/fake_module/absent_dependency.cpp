// A library the FAKE_MODULE_ABSENT_DEPENDENCY module links, kept where the
// loader does not look: that module's dlopen fails as a CUDA module's does
// without the CUDA runtime.
int nocturne_test_absent_dependency() { return 1; }
