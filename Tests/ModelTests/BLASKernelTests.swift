import Foundation
import Testing
@testable import Model

/// `make test-kernels` runs the numeric tests once per OpenBLAS kernel, naming the kernel in
/// OPENBLAS_CORETYPE and again in GRADSERVE_EXPECT_BLAS_CORE: this checks that the run really
/// used it (OpenBLAS falls back to the CPU's own kernel for a name it does not know).
@Suite struct BLASKernelTests {
    static let expected = ProcessInfo.processInfo.environment["GRADSERVE_EXPECT_BLAS_CORE"]

    @Test(.enabled(if: expected != nil, "runs under make test-kernels"))
    func theRequestedKernelIsTheOneInUse() {
        #expect(BLAS.coreName.lowercased() == Self.expected?.lowercased())
    }
}
