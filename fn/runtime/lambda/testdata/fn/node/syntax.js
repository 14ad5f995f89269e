// A handler file that does not parse: init must fail with Runtime.UserCodeSyntaxError.
exports.handler = async (event) => {
  return {
};
