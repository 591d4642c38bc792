import CBLAS
#if canImport(Glibc)
import Glibc
#endif

/// The few BLAS calls the models need, on row-major Float32 data.
///
/// OpenBLAS runs single-threaded: the server parallelises across requests, and threads
/// inside one small call would only contend for the same two cores.
public enum BLAS {
    private static let singleThreaded: Void = {
        openblas_set_num_threads(1)
        // OpenBLAS's pthreads build starts a pool of threads when it is loaded, and each spins
        // (sched_yield) for about 0.1 s waiting for work before it sleeps: gradctl, which never
        // calls BLAS, lost a core to them in the first 0.1 s of every run. Every call here runs on
        // its caller's thread, so the pool is stopped. Looked up by name: other builds lack it.
        if let shutdown = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "blas_thread_shutdown_") {
            _ = unsafeBitCast(shutdown, to: (@convention(c) () -> Int32).self)()
        }
    }()

    /// One thread per call, and no OpenBLAS thread pool: call first thing in a program.
    public static func configure() { _ = singleThreaded }

    /// Whether OpenBLAS's thread pool is running (false once `configure` stopped it, or in a build without one).
    public static var threadPoolIsRunning: Bool {
        guard let flag = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "blas_server_avail") else { return false }
        return flag.load(as: Int32.self) != 0
    }

    /// The OpenBLAS kernel in use, such as "Haswell": chosen from the CPU, or by OPENBLAS_CORETYPE.
    public static var coreName: String { String(cString: openblas_get_corename()) }

    /// y = alpha * A x + beta * y, with A of `rows x columns`.
    static func gemv(
        rows: Int, columns: Int, alpha: Float = 1, _ a: UnsafePointer<Float>,
        _ x: UnsafePointer<Float>, beta: Float, _ y: UnsafeMutablePointer<Float>
    ) {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(rows), Int32(columns), alpha, a, Int32(columns), x, 1, beta, y, 1)
    }

    /// y = alpha * Aᵀ x + beta * y, with A of `rows x columns`.
    static func gemvTransposed(
        rows: Int, columns: Int, alpha: Float = 1, _ a: UnsafePointer<Float>,
        _ x: UnsafePointer<Float>, beta: Float, _ y: UnsafeMutablePointer<Float>
    ) {
        cblas_sgemv(CblasRowMajor, CblasTrans, Int32(rows), Int32(columns), alpha, a, Int32(columns), x, 1, beta, y, 1)
    }

    /// A += alpha * x yᵀ, with A of `x.count x y.count`.
    static func ger(
        rows: Int, columns: Int, alpha: Float = 1, _ x: UnsafePointer<Float>,
        _ y: UnsafePointer<Float>, _ a: UnsafeMutablePointer<Float>
    ) {
        cblas_sger(CblasRowMajor, Int32(rows), Int32(columns), alpha, x, 1, y, 1, a, Int32(columns))
    }

    /// C = alpha * A Bᵀ + beta * C, with A `m x k`, B `n x k`, C `m x n`.
    static func gemmTransposedB(
        m: Int, n: Int, k: Int, alpha: Float = 1, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
        beta: Float, _ c: UnsafeMutablePointer<Float>
    ) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k),
                    alpha, a, Int32(k), b, Int32(k), beta, c, Int32(n))
    }

    /// C = alpha * Aᵀ B + beta * C, with A `k x m`, B `k x n`, C `m x n`.
    static func gemmTransposedA(
        m: Int, n: Int, k: Int, alpha: Float = 1, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
        beta: Float, _ c: UnsafeMutablePointer<Float>
    ) {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k),
                    alpha, a, Int32(m), b, Int32(n), beta, c, Int32(n))
    }

    /// C = alpha * A B + beta * C, with A `m x k`, B `k x n`, C `m x n`.
    static func gemm(
        m: Int, n: Int, k: Int, alpha: Float = 1, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
        beta: Float, _ c: UnsafeMutablePointer<Float>
    ) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k),
                    alpha, a, Int32(k), b, Int32(n), beta, c, Int32(n))
    }

    static func dot(_ count: Int, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>) -> Float {
        cblas_sdot(Int32(count), x, 1, y, 1)
    }

    /// y += alpha * x
    static func axpy(_ count: Int, alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        cblas_saxpy(Int32(count), alpha, x, 1, y, 1)
    }
}
