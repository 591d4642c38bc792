// The declarations in CFuzzer.h are defined by libFuzzer itself.
