/**
 * Runs a command on a real terminal (python3's pty) and types into it: once `trigger` appears in
 * the output, `input` is written to the terminal (e.g. a value and Enter, or Ctrl-C = "\x03", which
 * the line discipline turns into SIGINT for the foreground process group).
 */
import { spawn } from 'node:child_process';

const DRIVER = String.raw`
import os, pty, sys, time, select
trigger, data = sys.argv[1].encode(), bytes.fromhex(sys.argv[2])
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[3], sys.argv[3:])
out = b''
sent = False
deadline = time.time() + 60
while time.time() < deadline:
    ready, _, _ = select.select([fd], [], [], 0.2)
    if ready:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    if not sent and trigger in out:
        os.write(fd, data)
        sent = True
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode('utf8', 'replace'))
sys.exit(os.waitstatus_to_exitcode(status))
`;

export interface PtyResult {
  /** Everything the terminal showed (the program's output plus whatever the terminal echoed). */
  output: string;
  code: number | null;
}

export function runOnTerminal(command: string[], trigger: string, input: string, env: NodeJS.ProcessEnv): Promise<PtyResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', DRIVER, trigger, Buffer.from(input, 'utf8').toString('hex'), ...command], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (output += text));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ output, code });
    });
  });
}
