/**
 * What POST /uploads and PATCH /uploads/{id} refuse before reading a row: each answer names
 * what is wrong (the form field, the query parameter, the header, the media type).
 */
import { describe, expect, it } from 'vitest';
import { call, expectProblem } from './support/api.ts';

const ROWS = 'id,firstName,lastName,dateOfBirth\nash-1,Ash,Ketchum,22-05-1987';

function postForm(fields: Record<string, string | Blob>, query = '') {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.set(name, value);
  return call(`/uploads${query}`, { method: 'POST', body: form });
}

describe('POST /uploads: the form', () => {
  it('asks for the type when neither the form nor the query gives it', async () => {
    const problem = await expectProblem(await postForm({ data: ROWS }), 422);
    expect(problem.errors).toEqual([{ parameter: 'type', detail: 'type is required: trainer or pokemon.' }]);
  });

  it('names the form field type when it is neither trainer nor pokemon', async () => {
    const problem = await expectProblem(await postForm({ type: 'dragon', data: ROWS }), 422);
    expect(problem.errors).toEqual([{ pointer: '/type', detail: 'type must be trainer or pokemon.' }]);
  });

  it('asks for the data field, with the type taken from the query', async () => {
    const problem = await expectProblem(await postForm({ note: 'no file' }, '?type=trainer'), 422);
    expect(problem.errors).toEqual([{ pointer: '/data', detail: 'data is required: the CSV file.' }]);
  });

  it('answers 400 to a multipart body that cannot be read', async () => {
    const response = await call('/uploads?type=trainer', { method: 'POST', body: 'not a form', headers: { 'Content-Type': 'multipart/form-data; boundary=x' } });
    const problem = await expectProblem(response, 400);
    expect(problem.detail).toBe('The multipart/form-data body could not be read.');
  });
});

describe('POST /uploads: the media type and the query', () => {
  it('asks for the type of a text/csv body', async () => {
    const response = await call('/uploads', { method: 'POST', body: ROWS, headers: { 'Content-Type': 'text/csv' } });
    expect((await expectProblem(response, 422)).errors).toEqual([{ parameter: 'type', detail: 'type is required: trainer or pokemon.' }]);
  });

  it('answers a text/csv request without a body as an empty file', async () => {
    const response = await call('/uploads?type=trainer', { method: 'POST', headers: { 'Content-Type': 'text/csv' } });
    const problem = await expectProblem(response, 422);
    expect(problem.detail).toBe('The file is empty.');
  });

  it('answers 415 naming the media type sent, or none', async () => {
    const json = await call('/uploads?type=trainer', { method: 'POST', body: '{}', headers: { 'Content-Type': 'application/json' } });
    expect((await expectProblem(json, 415)).detail).toBe('Send the CSV as text/csv (or a multipart/form-data form), not application/json.');
    const bare = await call('/uploads?type=trainer', { method: 'POST', body: new Uint8Array([0x61]) });
    expect((await expectProblem(bare, 415)).detail).toBe('Send the CSV as text/csv (or a multipart/form-data form).');
  });

  it('refuses a resumable first piece that is not CSV, or without a type', async () => {
    const json = await call('/uploads?type=trainer', { method: 'POST', body: '{}', headers: { 'Content-Type': 'application/json', 'Upload-Complete': '?0' } });
    expect((await expectProblem(json, 415)).detail).toBe('Send the first piece as text/csv, not application/json.');
    const bare = await call('/uploads?type=trainer', { method: 'POST', body: new Uint8Array([0x61]), headers: { 'Upload-Complete': '?0' } });
    expect((await expectProblem(bare, 415)).detail).toBe('Send the first piece as text/csv.');
    const untyped = await call('/uploads', { method: 'POST', body: ROWS, headers: { 'Content-Type': 'text/csv', 'Upload-Complete': '?0' } });
    expect((await expectProblem(untyped, 422)).errors).toEqual([{ parameter: 'type', detail: 'type is required: trainer or pokemon.' }]);
  });
});

describe('PATCH /uploads/{id}: the headers', () => {
  const id = crypto.randomUUID();
  const patch = (headers: Record<string, string>) => call(`/uploads/${id}`, { method: 'PATCH', body: 'x', headers });

  it('asks for Upload-Offset and Upload-Complete, naming each', async () => {
    const noOffset = await expectProblem(await patch({ 'Content-Type': 'application/partial-upload', 'Upload-Complete': '?1' }), 422);
    expect(noOffset.detail).toBe('A header is invalid: Upload-Offset.');
    expect(noOffset.errors).toEqual([{ parameter: 'Upload-Offset', detail: 'Upload-Offset must be a whole number of bytes and is required.' }]);
    const noComplete = await expectProblem(await patch({ 'Content-Type': 'application/partial-upload', 'Upload-Offset': '0' }), 422);
    expect(noComplete.errors).toEqual([{ parameter: 'Upload-Complete', detail: 'Upload-Complete is required: ?1 for the last piece, ?0 otherwise.' }]);
    const both = await expectProblem(await patch({ 'Content-Type': 'application/partial-upload', 'Upload-Offset': 'x', 'Upload-Complete': 'yes' }), 422);
    expect(both.errors).toEqual([{ parameter: 'Upload-Offset', detail: 'Upload-Offset must be a whole number of bytes, not "x".' }]);
  });

  it('answers 415 to a piece without a media type', async () => {
    const problem = await expectProblem(await call(`/uploads/${id}`, { method: 'PATCH', body: new Uint8Array([0x61]), headers: { 'Upload-Offset': '0', 'Upload-Complete': '?1' } }), 415);
    expect(problem.detail).toBe('Send a piece as application/partial-upload.');
  });
});

describe('bodies declared larger than allowed', () => {
  /** A body that never ends: only its declared length can answer it. */
  const endless = () => new ReadableStream<Uint8Array>({ start: (controller) => controller.enqueue(new TextEncoder().encode('id,firstName\n')) });
  const huge = String(64 * 1024 * 1024 * 1024);

  it('refuses a file declared over the upload limit at once (413 naming maxBytes)', async () => {
    const response = await call('/uploads?type=trainer', { method: 'POST', body: endless(), headers: { 'Content-Type': 'text/csv', 'Content-Length': huge } });
    const problem = await expectProblem(response, 413);
    expect(problem.maxBytes).toEqual(expect.any(Number));
    expect(problem.detail).toBe(`The file is larger than ${problem.maxBytes} bytes.`);
  });

  it('refuses a piece declared over the piece limit at once (413 naming maxPieceBytes)', async () => {
    const headers = { 'Content-Type': 'application/partial-upload', 'Upload-Offset': '0', 'Upload-Complete': '?1', 'Content-Length': huge };
    const problem = await expectProblem(await call(`/uploads/${crypto.randomUUID()}`, { method: 'PATCH', body: endless(), headers }), 413);
    expect(problem.maxPieceBytes).toEqual(expect.any(Number));
  });
});
