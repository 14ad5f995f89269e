// echo: the benchmark's Node function, for the Node cold start.
exports.handler = async (event) => event;
