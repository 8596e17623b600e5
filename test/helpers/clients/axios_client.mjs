// axios reads HTTP(S)_PROXY itself and tunnels HTTPS with CONNECT.
import axios from 'axios';

const [url, envName] = process.argv.slice(2);
const value = process.env[envName] ?? '';
console.log(`client-saw ${envName}=${value}`);
const res = await axios.get(url, { headers: { authorization: `Bearer ${value}` }, timeout: 20_000, responseType: 'text' });
console.log(`status ${res.status}`);
console.log(`body ${String(res.data).split('\n')[0]}`);
