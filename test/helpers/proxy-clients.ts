/** Real clients driven through the proxy: curl and python3 urllib, run as child processes. */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ClientResult {
  status: number;
  /** Status of the CONNECT reply (curl), 0 when there was none. */
  connectStatus: number;
  body: string;
  headers: string;
  exitCode: number;
  stderr: string;
}

function run(command: string, args: string[], timeoutMs = 20_000): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ stdout: String(stdout), stderr: String(stderr), code });
    });
  });
}

/** curl through the proxy; `args` are extra curl arguments (headers, -x, --cacert, data...). */
export async function curl(url: string, args: string[]): Promise<ClientResult> {
  const dir = mkdtempSync(join(tmpdir(), 'veil-curl-'));
  const bodyFile = join(dir, 'body');
  const headerFile = join(dir, 'headers');
  const result = await run('curl', [
    '-sS',
    '--max-time', '15',
    '-o', bodyFile,
    '-D', headerFile,
    '-w', '%{http_code} %{http_connect}',
    ...args,
    url,
  ]);
  const [status, connectStatus] = result.stdout.trim().split(' ').map(Number);
  const read = (file: string) => {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return '';
    }
  };
  return {
    status: status ?? 0,
    connectStatus: connectStatus ?? 0,
    body: read(bodyFile),
    headers: read(headerFile),
    exitCode: result.code,
    stderr: result.stderr,
  };
}

const PYTHON_CLIENT = `
import json, ssl, sys, urllib.request, urllib.error
url, proxy, cafile = sys.argv[1], sys.argv[2], sys.argv[3]
headers = json.loads(sys.argv[4])
context = ssl.create_default_context(cafile=cafile)
opener = urllib.request.build_opener(
    urllib.request.ProxyHandler({'http': proxy, 'https': proxy}),
    urllib.request.HTTPSHandler(context=context))
request = urllib.request.Request(url, headers=headers)
try:
    with opener.open(request, timeout=15) as response:
        print(json.dumps({'status': response.status, 'body': response.read().decode()}))
except urllib.error.HTTPError as error:
    print(json.dumps({'status': error.code, 'body': error.read().decode()}))
`;

/** python3 urllib with ProxyHandler (credentials in the proxy URL) and an ssl context on `cafile`. */
export async function pythonGet(url: string, proxyUrl: string, cafile: string, headers: Record<string, string>): Promise<{ status: number; body: string; stderr: string }> {
  const result = await run('python3', ['-c', PYTHON_CLIENT, url, proxyUrl, cafile, JSON.stringify(headers)]);
  try {
    const parsed = JSON.parse(result.stdout) as { status: number; body: string };
    return { ...parsed, stderr: result.stderr };
  } catch {
    return { status: 0, body: result.stdout, stderr: result.stderr };
  }
}

const PYTHON_REQUESTS_CLIENT = `
import json, sys, requests
url, proxy, cafile = sys.argv[1], sys.argv[2], sys.argv[3]
headers = json.loads(sys.argv[4])
response = requests.get(url, headers=headers, proxies={'http': proxy, 'https': proxy}, verify=cafile, timeout=15)
print(json.dumps({'status': response.status_code, 'body': response.text}))
`;

/** python3 requests (urllib3 underneath) with proxies= and verify=cafile. */
export async function pythonRequestsGet(url: string, proxyUrl: string, cafile: string, headers: Record<string, string>): Promise<{ status: number; body: string; stderr: string }> {
  const result = await run('python3', ['-c', PYTHON_REQUESTS_CLIENT, url, proxyUrl, cafile, JSON.stringify(headers)]);
  try {
    const parsed = JSON.parse(result.stdout) as { status: number; body: string };
    return { ...parsed, stderr: result.stderr };
  } catch {
    return { status: 0, body: result.stdout, stderr: result.stderr };
  }
}
