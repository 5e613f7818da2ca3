# Thin wrapper over CMake. `make run` and `make test` install whatever is
# missing first (scripts/install-deps), then configure and build.
BUILD        ?= build
ASAN         ?= build-asan
PKG          ?= build-pkg
JOBS         ?= $(shell nproc 2>/dev/null || echo 2)
ARGS         ?=
FUZZ_SECONDS ?= 60
CMAKE_GEN    := cmake -S . -DCMAKE_EXPORT_COMPILE_COMMANDS=ON

.PHONY: all deps build build-asan run test test-release test-asan \
	test-fuzz test-valgrind lint valgrind fuzz bench package package-check \
	clean

all: build

deps:
	@scripts/install-deps

build: deps
	@$(CMAKE_GEN) -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	@$(CMAKE_GEN) -B $(ASAN) -DCMAKE_BUILD_TYPE=Debug \
		-DTCP_SERVER_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN) -j $(JOBS)

run: build
	$(BUILD)/bin/tcp_server -v $(ARGS)

# The whole suite: unit and process tests in a Release build and again
# under ASan+UBSan, fuzz smoke runs, a valgrind subset, static analysis,
# and the Debian package checked by lintian.
test: test-release test-asan test-fuzz test-valgrind lint package-check

test-release: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

test-asan: build-asan
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	ctest --test-dir $(ASAN) --output-on-failure -j $(JOBS)

# libFuzzer targets (clang), FUZZ_SECONDS each, two at a time, in build-fuzz.
test-fuzz fuzz: deps
	@scripts/fuzz $(FUZZ_SECONDS)

# The short valgrind subset; `make valgrind` runs the full protocol tests.
test-valgrind: deps
	@scripts/valgrind --quick

valgrind: deps
	@scripts/valgrind

lint: deps
	@scripts/lint

bench: build
	@scripts/bench $(BUILD)/bin

# The Debian package (CPack DEB) in $(PKG)/: a build for prefix /usr with
# all of Debian's hardening flags (dpkg-buildflags), stripped by CPack the
# way dh_strip does (scripts/deb-strip).
DEB_FLAGS = DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get
package: deps
	@$(CMAKE_GEN) -B $(PKG) -DCMAKE_BUILD_TYPE=Release \
		-DCMAKE_INSTALL_PREFIX=/usr -DTCP_SERVER_DEB=ON -DBUILD_TESTING=OFF \
		-DCMAKE_C_FLAGS="$$($(DEB_FLAGS) CPPFLAGS) $$($(DEB_FLAGS) CFLAGS)" \
		-DCMAKE_EXE_LINKER_FLAGS="$$($(DEB_FLAGS) LDFLAGS)" \
		-DCMAKE_STRIP="$(CURDIR)/scripts/deb-strip" >/dev/null
	@cmake --build $(PKG) -j $(JOBS)
	@cd $(PKG) && cpack -G DEB

# lintian (no error, no warning) and the package's file list.
package-check: package
	@scripts/package-check $(PKG)

clean:
	rm -rf $(BUILD) $(ASAN) $(PKG) build-fuzz build-lint build-lint-fuzz build-valgrind
