/** The admin API as the simulator uses it: JSON over fetch with a bearer token. */
export interface ApiResponse<T = any> {
  status: number;
  body: T;
}

export interface AdminApi {
  readonly baseUrl: string;
  call<T = any>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>>;
  /** Like `call`, but throws unless the status is one of `ok`. */
  must<T = any>(method: string, path: string, body?: unknown, ok?: number[]): Promise<T>;
  upload(path: string, bytes: Uint8Array): Promise<ApiResponse>;
}

export function adminApi(baseUrl: string, token: string): AdminApi {
  const base = baseUrl.replace(/\/+$/, '');
  const parse = async (res: Response) => {
    const text = await res.text();
    try {
      return text ? JSON.parse(text) : undefined;
    } catch {
      return text;
    }
  };
  const api: AdminApi = {
    baseUrl: base,
    async call(method, path, body) {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: await parse(res) };
    },
    async must(method, path, body, ok = [200, 201]) {
      const res = await api.call(method, path, body);
      if (!ok.includes(res.status)) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body;
    },
    async upload(path, bytes) {
      const res = await fetch(`${base}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
        body: bytes,
      });
      return { status: res.status, body: await parse(res) };
    },
  };
  return api;
}
