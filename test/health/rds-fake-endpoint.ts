// A local HTTP server answering the RDS Query API (POST form, Action=DescribeDBInstances) with the XML that RDS
// answers, so the real @aws-sdk/client-rds parses real responses. Only this one action is answered.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeRds {
  url: string;
  /** Instance identifier -> DBInstanceStatus; an identifier not listed is answered DBInstanceNotFound. */
  states: Map<string, string>;
  /** Answer every request with this HTTP status and an RDS error body (e.g. 500 InternalFailure). */
  failWith?: { status: number; code: string };
  /** DescribeDBInstances requests received. */
  requests: number;
  close(): Promise<void>;
}

const NS = 'http://rds.amazonaws.com/doc/2014-10-31/';

function errorXml(code: string, message: string): string {
  return `<ErrorResponse xmlns="${NS}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>fake-0001</RequestId></ErrorResponse>`;
}

function describeXml(id: string, status: string): string {
  return (
    `<DescribeDBInstancesResponse xmlns="${NS}"><DescribeDBInstancesResult><DBInstances><DBInstance>` +
    `<DBInstanceIdentifier>${id}</DBInstanceIdentifier><DBInstanceStatus>${status}</DBInstanceStatus>` +
    `<Engine>postgres</Engine><MultiAZ>true</MultiAZ>` +
    `</DBInstance></DBInstances></DescribeDBInstancesResult>` +
    `<ResponseMetadata><RequestId>fake-0002</RequestId></ResponseMetadata></DescribeDBInstancesResponse>`
  );
}

/** Starts the fake RDS endpoint on 127.0.0.1 and a free port. */
export async function startFakeRds(states: Record<string, string> = {}): Promise<FakeRds> {
  const fake: FakeRds = { url: '', states: new Map(Object.entries(states)), requests: 0, close: async () => undefined };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      const send = (status: number, body: string) => res.writeHead(status, { 'Content-Type': 'text/xml' }).end(body);
      if (req.method !== 'POST' || form.get('Action') !== 'DescribeDBInstances') {
        send(400, errorXml('InvalidAction', `unsupported action ${form.get('Action') ?? ''}`));
        return;
      }
      fake.requests += 1;
      if (fake.failWith) {
        send(fake.failWith.status, errorXml(fake.failWith.code, 'fault injected by the test'));
        return;
      }
      const id = form.get('DBInstanceIdentifier') ?? '';
      const status = fake.states.get(id);
      if (status === undefined) send(404, errorXml('DBInstanceNotFound', `DBInstance ${id} not found.`));
      else send(200, describeXml(id, status));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return fake;
}
