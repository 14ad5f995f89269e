// The chapter's claudia-api-builder app, unmodified by Stoa: the first
// handler of the chapter, the second (which returns the request as claudia
// gives it), and a few more routes the gateway's tests need.
const ApiBuilder = require('claudia-api-builder');
const api = new ApiBuilder();
module.exports = api;

// Each execution environment names itself once, as the chapter's Docker
// replicas answer with their start time.
const started = `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`;

api.get('/hello', () => 'Hello from AWS!');
api.get('/echo/{id}', (request) => request);
api.post('/echo/{id}', (request) => request);
api.get('/users/{id}', (request) => ({ id: request.pathParams.id }));
api.post('/items', (request) => ({ created: request.body }), { success: 201 });
api.get('/who', () => ({ env: started }));
api.get('/fail', () => { throw new Error('it broke'); });
