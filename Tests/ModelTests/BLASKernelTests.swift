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

/// OpenBLAS's pthreads build (the one `make` installs) starts a thread pool when it is loaded,
/// which spins for about 0.1 s; `BLAS.configure` stops it, since every call runs on its caller.
@Suite struct BLASThreadPoolTests {
    @Test func configureStopsOpenBLASsThreadPoolAndCallsStillWork() {
        BLAS.configure()
        #expect(!BLAS.threadPoolIsRunning)
        // y = A x with A = [[1, 2], [3, 4]]: exact in Float32 on every kernel.
        let a: [Float] = [1, 2, 3, 4], x: [Float] = [1, 1]
        var y: [Float] = [0, 0]
        BLAS.gemv(rows: 2, columns: 2, a, x, beta: 0, &y)
        #expect(y == [3, 7])
    }
}
