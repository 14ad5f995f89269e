// The Node half of the hello-fn example: a Lambda handler, run by the Node
// bootstrap Stoa ships.
//
//   stoa fn create --name hello-node --runtime node --handler app.handler ./examples/hello-fn/node
//   stoa fn invoke hello-node --payload '{"name":"Ada"}'
exports.handler = async (event, context) => {
  const name = event.name || 'world';
  console.log(`saying hello to ${name}`); // goes to the function's log
  return { message: `Hello, ${name}!`, runtime: 'node', requestId: context.awsRequestId };
};
