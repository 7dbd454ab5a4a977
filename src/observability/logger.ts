import { pino, type Logger, type DestinationStream } from 'pino';

/** pino JSON logs; tokens and Kubernetes error bodies never reach a line in clear. */
export function createLogger(opts: { level?: string; name?: string; destination?: DestinationStream } = {}): Logger {
  const options = {
    level: opts.level ?? process.env.LOG_LEVEL ?? 'info',
    name: opts.name ?? 'remediator',
    redact: ['req.headers.authorization', 'headers.authorization', 'token', '*.token'],
  };
  // Asynchronous writes keep log I/O off the webhook's hot path; serve flushes before it exits.
  return pino(options, opts.destination ?? pino.destination({ dest: 1, sync: false }));
}
