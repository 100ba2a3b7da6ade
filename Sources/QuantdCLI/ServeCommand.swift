import ArgumentParser
import Foundation
import HTTPServer
import Logging
import Metrics
import Prometheus
import QuantService
import QuantStore

/// `quantd [--host] [--port] [--data-dir] [--workers] [--api-key]`: serve the API and run workers.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve API v1 and run the job workers (the default command).",
        discussion: """
            Prints one line `quantd listening on http://HOST:PORT` to stdout when ready, then logs to \
            stderr. Without --api-key and with no key stored, the first start creates an admin key \
            and writes it to DATA_DIR/admin.key (mode 0600). SIGTERM or SIGINT stop it gracefully.
            """
    )

    @Option(help: "Address to listen on (QUANTD_HOST).")
    var host = environment("QUANTD_HOST") ?? "127.0.0.1"

    @Option(help: "Port; 0 binds a free one (QUANTD_PORT).")
    var port = Int(environment("QUANTD_PORT") ?? "") ?? 8080

    @OptionGroup var data: DataOptions

    @Option(help: "Worker count (QUANTD_WORKERS; default: the number of cores).")
    var workers = Int(environment("QUANTD_WORKERS") ?? "") ?? ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Register this key as the admin key (QUANTD_API_KEY).")
    var apiKey = environment("QUANTD_API_KEY")

    @Option(help: "Largest model upload in bytes (QUANTD_MAX_UPLOAD_BYTES).")
    var maxUploadBytes = Int64(environment("QUANTD_MAX_UPLOAD_BYTES") ?? "") ?? (64 << 30)

    @Option(help: "Lease length in seconds (QUANTD_LEASE_SECONDS); a replica that stops renewing loses its job after this.")
    var leaseSeconds = Double(environment("QUANTD_LEASE_SECONDS") ?? "") ?? 30

    @Option(help: "This replica's name in /metrics and in job leases (QUANTD_REPLICA_ID; default: host/pid/random).")
    var replicaID = environment("QUANTD_REPLICA_ID")

    @Option(help: "Seconds to let in-flight requests and jobs finish on SIGTERM.")
    var shutdownDeadline: Double = 20

    func run() throws {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        var logger = Logger(label: "quantd")
        logger.logLevel = .info
        let directory = data.directory
        let store = try data.openStore()
        try AdminKey.ensure(store: store, data: directory, apiKey: apiKey, logger: logger)
        var config = ServiceConfig()
        config.maxUploadBytes = maxUploadBytes
        config.workers = workers
        config.worker.leaseSeconds = leaseSeconds
        let failureLog = logger
        config.worker.onFailure = { job, code, message in
            failureLog.warning("job attempt failed", metadata: ["job": "\(job)", "code": "\(code)", "message": "\(message)"])
        }
        let errorLog = logger
        config.worker.onError = { doing, error in
            errorLog.error("unexpected error", metadata: ["while": "\(doing)", "error": "\(String(describing: error))"])
        }
        let pool = WorkerPool(store: store, data: directory, workers: workers, settings: config.worker, replicaID: replicaID)
        // What libraries record through swift-metrics lands in the same registry as ours (/metrics).
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: pool.counters.registry))
        try pool.start()
        let api = ServiceAPI(store: store, data: directory, pool: pool, config: config)
        var router = api.router()
        router.onUnexpectedError = { [counters = pool.counters] error, route in
            counters.unexpected("http")
            errorLog.error("request failed", metadata: ["route": "\(route)", "error": "\(String(describing: error))"])
        }
        let metricsObserver = router.observer
        let accessLog = logger
        router.observer = { request, response, seconds, route in
            metricsObserver?(request, response, seconds, route)
            accessLog.debug(
                "request",
                metadata: [
                    "method": "\(request.method)", "route": "\(route)", "status": "\(response.status.code)",
                    "ms": "\(String(format: "%.2f", seconds * 1000))", "request_id": "\(response.header("x-request-id") ?? "")",
                ])
        }
        var limits = HTTPLimits()
        limits.maxBodyBytes = maxUploadBytes
        let server = HTTPServer(host: host, port: port, limits: limits, responder: router)
        let bound = try server.start()
        // Exactly one line on stdout, flushed at once: scripts and tests wait for it.
        FileHandle.standardOutput.write(Data("quantd listening on http://\(host):\(bound)\n".utf8))
        logger.info("started", metadata: ["data_dir": "\(data.dataDir)", "workers": "\(workers)", "port": "\(bound)"])
        waitForTermination()
        logger.info("stopping: finishing in-flight requests and jobs", metadata: ["deadline_s": "\(shutdownDeadline)"])
        server.shutdown(deadline: shutdownDeadline / 2)
        let finished = pool.stop(deadline: shutdownDeadline / 2)
        logger.info("stopped", metadata: ["jobs_finished": "\(finished)"])
    }
}

/// The admin key: registered from --api-key, or created once and written to DATA_DIR/admin.key.
enum AdminKey {
    static func ensure(store: Store, data: DataDirectory, apiKey: String?, logger: Logger) throws {
        let admin = try store.createTenant(name: "admin", maxQueuedJobs: 10_000)
        if let apiKey {
            guard apiKey.count >= 16 else { throw ValidationError("--api-key must be at least 16 characters") }
            _ = try store.createKey(tenantID: admin.id, admin: true, plaintext: apiKey)
            logger.info("admin key registered from --api-key / QUANTD_API_KEY")
            return
        }
        let path = (data.root as NSString).appendingPathComponent("admin.key")
        guard try !store.hasAdminKey() else { return }
        let key = try store.createKey(tenantID: admin.id, admin: true)
        let created = FileManager.default.createFile(
            atPath: path, contents: Data((key.plaintext + "\n").utf8), attributes: [.posixPermissions: 0o600])
        guard created else { throw ValidationError("cannot write \(path)") }
        logger.info("created an admin API key", metadata: ["path": "\(path)"])
    }
}
