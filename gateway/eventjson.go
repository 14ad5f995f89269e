package gateway

import (
	"strconv"

	"github.com/stoaproject/stoa/internal/jsonstr"
)

// The proxy events are written by hand rather than by encoding/json, which
// spends most of an event's time on reflection and on sorting map keys
// (RATIONALE.md, "Events written by hand"). The output is the JSON
// encoding/json writes for the same structs, but for the order of map
// keys; TestEventJSON and FuzzEventJSON hold the two to that.

// appendRestEvent appends ev as JSON.
func appendRestEvent(b []byte, ev *restEvent) []byte {
	b = append(b, `{"resource":`...)
	b = jsonstr.Append(b, ev.Resource, true)
	b = append(b, `,"path":`...)
	b = jsonstr.Append(b, ev.Path, true)
	b = append(b, `,"httpMethod":`...)
	b = jsonstr.Append(b, ev.HTTPMethod, true)
	b = append(b, `,"headers":`...)
	b = appendStringMap(b, ev.Headers)
	b = append(b, `,"multiValueHeaders":`...)
	b = appendListMap(b, ev.MultiValueHeaders)
	b = append(b, `,"queryStringParameters":`...)
	b = appendStringMap(b, ev.QueryStringParameters)
	b = append(b, `,"multiValueQueryStringParameters":`...)
	b = appendListMap(b, ev.MultiValueQueryStringParameters)
	b = append(b, `,"pathParameters":`...)
	b = appendStringMap(b, ev.PathParameters)
	b = append(b, `,"stageVariables":`...)
	b = appendStringMap(b, ev.StageVariables)

	c := &ev.RequestContext
	b = append(b, `,"requestContext":{"accountId":`...)
	b = jsonstr.Append(b, c.AccountID, true)
	b = append(b, `,"apiId":`...)
	b = jsonstr.Append(b, c.APIID, true)
	b = append(b, `,"domainName":`...)
	b = jsonstr.Append(b, c.DomainName, true)
	b = append(b, `,"domainPrefix":`...)
	b = jsonstr.Append(b, c.DomainPrefix, true)
	b = append(b, `,"extendedRequestId":`...)
	b = jsonstr.Append(b, c.ExtendedRequestID, true)
	b = append(b, `,"httpMethod":`...)
	b = jsonstr.Append(b, c.HTTPMethod, true)
	id := &c.Identity
	b = append(b, `,"identity":{"accessKey":`...)
	b = appendStringPtr(b, id.AccessKey)
	b = append(b, `,"accountId":`...)
	b = appendStringPtr(b, id.AccountID)
	b = append(b, `,"apiKey":`...)
	b = appendStringPtr(b, id.APIKey)
	b = append(b, `,"apiKeyId":`...)
	b = appendStringPtr(b, id.APIKeyID)
	b = append(b, `,"caller":`...)
	b = appendStringPtr(b, id.Caller)
	b = append(b, `,"cognitoAuthenticationProvider":`...)
	b = appendStringPtr(b, id.CognitoAuthenticationProvider)
	b = append(b, `,"cognitoAuthenticationType":`...)
	b = appendStringPtr(b, id.CognitoAuthenticationType)
	b = append(b, `,"cognitoIdentityId":`...)
	b = appendStringPtr(b, id.CognitoIdentityID)
	b = append(b, `,"cognitoIdentityPoolId":`...)
	b = appendStringPtr(b, id.CognitoIdentityPoolID)
	b = append(b, `,"principalOrgId":`...)
	b = appendStringPtr(b, id.PrincipalOrgID)
	b = append(b, `,"sourceIp":`...)
	b = jsonstr.Append(b, id.SourceIP, true)
	b = append(b, `,"user":`...)
	b = appendStringPtr(b, id.User)
	b = append(b, `,"userAgent":`...)
	b = appendStringPtr(b, id.UserAgent)
	b = append(b, `,"userArn":`...)
	b = appendStringPtr(b, id.UserArn)
	b = append(b, `},"path":`...)
	b = jsonstr.Append(b, c.Path, true)
	b = append(b, `,"protocol":`...)
	b = jsonstr.Append(b, c.Protocol, true)
	b = append(b, `,"requestId":`...)
	b = jsonstr.Append(b, c.RequestID, true)
	b = append(b, `,"requestTime":`...)
	b = jsonstr.Append(b, c.RequestTime, true)
	b = append(b, `,"requestTimeEpoch":`...)
	b = strconv.AppendInt(b, c.RequestTimeEpoch, 10)
	b = append(b, `,"resourceId":`...)
	b = jsonstr.Append(b, c.ResourceID, true)
	b = append(b, `,"resourcePath":`...)
	b = jsonstr.Append(b, c.ResourcePath, true)
	b = append(b, `,"stage":`...)
	b = jsonstr.Append(b, c.Stage, true)
	b = append(b, `},"body":`...)
	b = appendStringPtr(b, ev.Body)
	b = append(b, `,"isBase64Encoded":`...)
	b = strconv.AppendBool(b, ev.IsBase64Encoded)
	return append(b, '}')
}

// appendHTTPEvent appends ev as JSON, leaving out what its struct tags
// mark omitempty when it is empty.
func appendHTTPEvent(b []byte, ev *httpEvent) []byte {
	b = append(b, `{"version":`...)
	b = jsonstr.Append(b, ev.Version, true)
	b = append(b, `,"routeKey":`...)
	b = jsonstr.Append(b, ev.RouteKey, true)
	b = append(b, `,"rawPath":`...)
	b = jsonstr.Append(b, ev.RawPath, true)
	b = append(b, `,"rawQueryString":`...)
	b = jsonstr.Append(b, ev.RawQueryString, true)
	if len(ev.Cookies) > 0 {
		b = append(b, `,"cookies":`...)
		b = appendList(b, ev.Cookies)
	}
	b = append(b, `,"headers":`...)
	b = appendStringMap(b, ev.Headers)
	if len(ev.QueryStringParameters) > 0 {
		b = append(b, `,"queryStringParameters":`...)
		b = appendStringMap(b, ev.QueryStringParameters)
	}
	if len(ev.PathParameters) > 0 {
		b = append(b, `,"pathParameters":`...)
		b = appendStringMap(b, ev.PathParameters)
	}
	if len(ev.StageVariables) > 0 {
		b = append(b, `,"stageVariables":`...)
		b = appendStringMap(b, ev.StageVariables)
	}
	c := &ev.RequestContext
	b = append(b, `,"requestContext":{"accountId":`...)
	b = jsonstr.Append(b, c.AccountID, true)
	b = append(b, `,"apiId":`...)
	b = jsonstr.Append(b, c.APIID, true)
	b = append(b, `,"domainName":`...)
	b = jsonstr.Append(b, c.DomainName, true)
	b = append(b, `,"domainPrefix":`...)
	b = jsonstr.Append(b, c.DomainPrefix, true)
	b = append(b, `,"http":{"method":`...)
	b = jsonstr.Append(b, c.HTTP.Method, true)
	b = append(b, `,"path":`...)
	b = jsonstr.Append(b, c.HTTP.Path, true)
	b = append(b, `,"protocol":`...)
	b = jsonstr.Append(b, c.HTTP.Protocol, true)
	b = append(b, `,"sourceIp":`...)
	b = jsonstr.Append(b, c.HTTP.SourceIP, true)
	b = append(b, `,"userAgent":`...)
	b = jsonstr.Append(b, c.HTTP.UserAgent, true)
	b = append(b, `},"requestId":`...)
	b = jsonstr.Append(b, c.RequestID, true)
	b = append(b, `,"routeKey":`...)
	b = jsonstr.Append(b, c.RouteKey, true)
	b = append(b, `,"stage":`...)
	b = jsonstr.Append(b, c.Stage, true)
	b = append(b, `,"time":`...)
	b = jsonstr.Append(b, c.Time, true)
	b = append(b, `,"timeEpoch":`...)
	b = strconv.AppendInt(b, c.TimeEpoch, 10)
	b = append(b, '}')
	if ev.Body != "" {
		b = append(b, `,"body":`...)
		b = jsonstr.Append(b, ev.Body, true)
	}
	b = append(b, `,"isBase64Encoded":`...)
	b = strconv.AppendBool(b, ev.IsBase64Encoded)
	return append(b, '}')
}

func appendStringPtr(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return jsonstr.Append(b, *s, true)
}

// appendStringMap appends m as an object, or null when m is nil, as
// encoding/json does (in the map's order, not sorted).
func appendStringMap(b []byte, m map[string]string) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	b = append(b, '{')
	first := true
	for k, v := range m {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = jsonstr.Append(b, k, true)
		b = append(b, ':')
		b = jsonstr.Append(b, v, true)
	}
	return append(b, '}')
}

func appendListMap(b []byte, m map[string][]string) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	b = append(b, '{')
	first := true
	for k, vs := range m {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = jsonstr.Append(b, k, true)
		b = append(b, ':')
		b = appendList(b, vs)
	}
	return append(b, '}')
}

func appendList(b []byte, vs []string) []byte {
	if vs == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonstr.Append(b, v, true)
	}
	return append(b, ']')
}
