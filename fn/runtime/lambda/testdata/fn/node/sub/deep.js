// A handler in a subdirectory: _HANDLER "sub/deep.handler".
exports.handler = async () => 'deep';
