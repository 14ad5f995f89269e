// A module that throws while loading: init fails with the error itself.
throw new Error('cannot load');
