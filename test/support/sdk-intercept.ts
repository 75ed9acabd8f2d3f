// Answers chosen AWS SDK commands at the client's middleware, before anything is signed or
// sent: how the stage runtime's Step Functions and CloudFormation calls are tested without
// AWS. A command without a handler fails the test instead of reaching the network.

export interface InterceptedCall {
  command: string;
  input: Record<string, unknown>;
}

type Handler = (input: Record<string, unknown>) => unknown;

interface WithMiddleware {
  middlewareStack: { add: (middleware: never, options: Record<string, unknown>) => void };
}

/** Installs `handlers` (keyed by command name, e.g. "StartExecutionCommand") on `client`; returns the calls seen. */
export function interceptCommands(client: WithMiddleware, handlers: Record<string, Handler>): InterceptedCall[] {
  const calls: InterceptedCall[] = [];
  const middleware = (_next: unknown, context: { commandName?: string }) => async (args: { input: Record<string, unknown> }) => {
    const command = context.commandName ?? "?";
    calls.push({ command, input: structuredClone(args.input) });
    const handler = handlers[command];
    if (!handler) throw new Error(`test: no handler for ${command}`);
    const output = await handler(args.input);
    return { output: { $metadata: {}, ...(output as object) }, response: {} };
  };
  client.middlewareStack.add(middleware as never, { step: "initialize", priority: "high", name: "ferryTestIntercept" });
  return calls;
}
