import { randomUUID } from 'node:crypto';
import type { EdgeClient } from './edge/types.js';
import { SCHEMAS, type AlertMessage, type AlertSeverity } from './contracts/messages.js';
import { redactDeep, redactSecrets, type Logger } from './logging.js';
import { errorMessage } from './errors.js';

/**
 * Sends an `edgeml.alert/v1` on the module's `alerts` output (routed to $upstream). Never throws:
 * an alert that cannot be sent is logged, because the alert is about another failure.
 */
export async function sendAlert(
  edge: EdgeClient,
  logger: Logger,
  alert: { severity: AlertSeverity; code: string; message: string; id?: string; details?: Record<string, unknown> },
  now: () => Date = () => new Date(),
): Promise<void> {
  const message: AlertMessage = {
    schema: SCHEMAS.alert,
    messageId: randomUUID(),
    module: edge.moduleId,
    severity: alert.severity,
    code: alert.code,
    message: redactSecrets(alert.message).slice(0, 8192),
    ...(alert.id === undefined ? {} : { id: alert.id }),
    ...(alert.details === undefined ? {} : { details: redactDeep(alert.details) as Record<string, unknown> }),
    createdAt: now().toISOString(),
  };
  try {
    await edge.sendOutput('alerts', {
      body: message,
      messageId: message.messageId,
      properties: { schema: SCHEMAS.alert, severity: alert.severity, code: alert.code, module: edge.moduleId },
    });
  } catch (err: unknown) {
    logger.error({ err, alert: message }, `could not send alert: ${errorMessage(err)}`);
  }
}
