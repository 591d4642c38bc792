// The header is all there is (static inline functions); SwiftPM wants a source file.
