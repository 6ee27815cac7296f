#!/usr/bin/env bash
# Regenerates the Swift code of the entity schemas (.proto files) and commits nothing itself:
#   scripts/generate.sh
# Needs Debian's protobuf-compiler (installed when missing) and builds protoc-gen-swift from
# the swift-protobuf package Plume depends on (about 10 minutes the first time, into
# .build-protoc/). Not run in CI: the generated code is committed. Run it after every change
# to a .proto file and commit the result with it.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v protoc >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq protobuf-compiler
fi

version=$(sed -n 's/.*swift-protobuf.git", exact: "\([0-9.]*\)".*/\1/p' Package.swift)
[ -n "$version" ] || { echo "generate: no exact swift-protobuf version in Package.swift" >&2; exit 1; }
plugin_dir=".build-protoc/swift-protobuf-$version"
if [ ! -x "$plugin_dir/.build/debug/protoc-gen-swift" ]; then
    rm -rf "$plugin_dir"
    mkdir -p .build-protoc
    git clone -q --depth 1 --branch "$version" https://github.com/apple/swift-protobuf.git "$plugin_dir"
    (cd "$plugin_dir" && swift build --product protoc-gen-swift)
fi
plugin="$plugin_dir/.build/debug/protoc-gen-swift"

# Each module's .proto files, generated next to them (Generated/), public.
generate() {
    local dir=$1
    rm -rf "$dir/Generated"
    mkdir -p "$dir/Generated"
    protoc --plugin=protoc-gen-swift="$plugin" -I "$dir" \
        --swift_opt=Visibility=Public --swift_out="$dir/Generated" "$dir"/*.proto
    echo "generate: $(ls "$dir/Generated" | tr '\n' ' ')in $dir/Generated"
}
generate Sources/EntityRuntime/Schema
generate Sources/PlatformServices/Schema
generate Tests/EntityRuntimeTests/Schema
